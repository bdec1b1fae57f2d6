import { StaleModelError } from '../errors';
import { explainWindow } from '../explain';
import type { Explanation } from '../explain';
import type { Metrics } from '../metrics';
import { featurize } from '../score';
import type { ScoreBatcher, ScoreResult } from '../score';
import type { ModelHolder } from './model-holder';
import type { ModelSource, Scoring } from './ports';

/** The serving model as the batch step sees it: the holder's current version behind the micro-batcher. */
export class ServingModel implements ModelSource {
  constructor(
    private readonly models: ModelHolder,
    private readonly batcher: ScoreBatcher,
    private readonly metrics: Pick<Metrics, 'sensorsImputed'>,
    /** Extra forward passes an explanation may run (PDM_EXPLAIN_MAX_PASSES); 0 turns explanations off. */
    private readonly explainMaxPasses = 0,
  ) {}

  /** Occlusion explanation of a raised alert, in one batched forward pass (alerts are rare: the cost is bounded per alert). */
  explain(s: Scoring, modelVersion: string): Explanation | undefined {
    const loaded = this.models.current;
    if (this.explainMaxPasses === 0 || !loaded || loaded.meta.version !== modelVersion) return undefined;
    return explainWindow(
      loaded,
      { readings: s.readings, words: s.words, context: s.context },
      { maxPasses: this.explainMaxPasses, top: 5 },
    );
  }

  hasModel(): boolean {
    return this.models.current !== undefined;
  }

  unusable(): string | undefined {
    return this.models.unusable;
  }

  /** Featurises with the serving model and scores; a swap in between re-featurises with the new one. */
  async score(s: Scoring): Promise<ScoreResult | undefined> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const loaded = this.models.current;
      if (!loaded) return undefined;
      const features = featurize(
        s.readings,
        s.words,
        { ...loaded.meta, tokenizer: loaded.tokenizer },
        s.context,
      );
      for (const sensor of features.imputed) this.metrics.sensorsImputed.inc({ sensor });
      try {
        return await this.batcher.score({ features, modelVersion: loaded.meta.version });
      } catch (error) {
        if (!(error instanceof StaleModelError)) throw error;
      }
    }
    throw new Error('the serving model changed ten times while scoring one window');
  }
}
