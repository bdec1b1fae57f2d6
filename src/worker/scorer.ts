import { StaleModelError } from '../errors';
import { explainWindows } from '../explain';
import type { Explanation } from '../explain';
import type { Metrics } from '../metrics';
import { yieldToLoop } from '../loop';
import { featurize } from '../score';
import type { FeatureSpec, ScoreBatcher, ScoreResult } from '../score';
import type { LoadedModel } from '../registry';
import type { ModelHolder } from './model-holder';
import type { ExplainRequest, ModelSource, Scoring } from './ports';

/** Rows (a window and its occluded copies) per explanation pass: bounds one synchronous model call. */
const EXPLAIN_ROWS_PER_PASS = 512;

/** The serving model as the batch step sees it: the holder's current version behind the micro-batcher. */
export class ServingModel implements ModelSource {
  constructor(
    private readonly models: ModelHolder,
    private readonly batcher: ScoreBatcher,
    /** Without `sensorsImputed` (the shadow's scorer), imputations are not counted twice. */
    private readonly metrics: Partial<Pick<Metrics, 'sensorsImputed'>>,
    /** Extra forward passes an explanation may run (PDM_EXPLAIN_MAX_PASSES); 0 turns explanations off. */
    private readonly explainMaxPasses = 0,
  ) {}

  private explainQueue: {
    readonly requests: readonly ExplainRequest[];
    readonly resolve: (explained: (Explanation | undefined)[]) => void;
    readonly reject: (error: unknown) => void;
  }[] = [];
  private explainScheduled: NodeJS.Immediate | undefined;

  /**
   * Occlusion explanations of raised alerts, batched across the batches of every partition: requests made
   * in the same event-loop turn are explained together on the next one (`explainWindows`: one forward pass
   * per slice instead of one per alert, or per partition), in slices of about EXPLAIN_ROWS_PER_PASS rows
   * with the event loop let run between slices. A window scored by a version that no longer serves gets none.
   */
  explain(requests: readonly ExplainRequest[]): Promise<(Explanation | undefined)[]> {
    if (this.explainMaxPasses === 0 || requests.length === 0)
      return Promise.resolve(requests.map(() => undefined));
    return new Promise((resolve, reject) => {
      this.explainQueue.push({ requests, resolve, reject });
      this.explainScheduled ??= setImmediate(() => void this.explainQueued());
    });
  }

  private async explainQueued(): Promise<void> {
    this.explainScheduled = undefined;
    const jobs = this.explainQueue.splice(0);
    try {
      const explained = await this.explainAll(jobs.flatMap((j) => j.requests));
      let at = 0;
      for (const job of jobs) {
        job.resolve(explained.slice(at, at + job.requests.length));
        at += job.requests.length;
      }
    } catch (error) {
      for (const job of jobs) job.reject(error);
    }
  }

  private async explainAll(requests: readonly ExplainRequest[]): Promise<(Explanation | undefined)[]> {
    const out: (Explanation | undefined)[] = requests.map(() => undefined);
    let start = 0;
    while (start < requests.length) {
      if (start > 0) await yieldToLoop();
      const loaded = this.models.current;
      if (!loaded) break;
      // Rows per window: at most one per sensor and per distinct word, capped by the pass limit.
      const slice: number[] = [];
      let rows = 0;
      for (; start < requests.length && (rows === 0 || rows < EXPLAIN_ROWS_PER_PASS); start++) {
        const { window, modelVersion } = requests[start]!;
        if (modelVersion !== loaded.meta.version) continue;
        const candidates = loaded.meta.sensors.length + new Set(window.words).size;
        rows += Math.min(candidates, this.explainMaxPasses);
        slice.push(start);
      }
      const explained = explainWindows(
        loaded,
        slice.map((i) => {
          const { window, score } = requests[i]!;
          return {
            readings: window.readings,
            words: window.words,
            context: window.context,
            servedScore: score,
          };
        }),
        { maxPasses: this.explainMaxPasses, top: 5 },
      );
      slice.forEach((i, j) => (out[i] = explained[j]));
    }
    return out;
  }

  hasModel(): boolean {
    return this.models.current !== undefined;
  }

  unusable(): string | undefined {
    return this.models.unusable;
  }

  /** The serving version's feature spec, made once per version rather than copied for every window. */
  private spec: { readonly of: LoadedModel; readonly spec: FeatureSpec } | undefined;

  private specOf(loaded: LoadedModel): FeatureSpec {
    if (this.spec?.of !== loaded)
      this.spec = { of: loaded, spec: { ...loaded.meta, tokenizer: loaded.tokenizer } };
    return this.spec.spec;
  }

  /** Featurises with the serving model and scores; a swap in between re-featurises with the new one. */
  async score(s: Scoring): Promise<ScoreResult | undefined> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const loaded = this.models.current;
      if (!loaded) return undefined;
      const features = featurize(s.readings, s.words, this.specOf(loaded), s.context);
      for (const sensor of features.imputed) this.metrics.sensorsImputed?.inc({ sensor });
      try {
        return await this.batcher.score({ features, modelVersion: loaded.meta.version });
      } catch (error) {
        if (!(error instanceof StaleModelError)) throw error;
      }
    }
    throw new Error('the serving model changed ten times while scoring one window');
  }
}
