import type { Config } from '../config';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import type { ExpectedShape, ModelMeta, ModelRegistry } from '../registry';
import { ScoreBatcher } from '../score';
import { ModelHolder } from '../worker/model-holder';
import { ShadowScorer } from './scorer';

/**
 * A worker's challenger: a model holder on the registry's `shadow` pointer (polled like `current`, with the
 * same refusal rules: a refused version is logged and counted in `pdm_model_load_failures_total`), its own
 * micro-batcher (no `pdm_scores_total`: that counts the champion), and the scorer the batch step calls.
 */
export class Shadow {
  readonly scorer: ShadowScorer;
  private readonly holder: ModelHolder;
  private readonly batcher: ScoreBatcher;

  constructor(
    registry: ModelRegistry,
    expected: ExpectedShape,
    config: Pick<Config, 'scoring' | 'topics'>,
    championVersion: () => string | undefined,
    logger: Logger,
    metrics: Metrics,
  ) {
    this.holder = new ModelHolder(registry, expected, logger, metrics, undefined, 'shadow');
    this.batcher = new ScoreBatcher(
      () => this.holder.current,
      config.scoring.batchSize,
      config.scoring.maxWaitMs,
    );
    this.scorer = new ShadowScorer(
      this.holder,
      this.batcher,
      { scoresTopic: config.topics.scores, championVersion },
      metrics,
      logger,
    );
  }

  /** The shadow's metadata while it is scored (for `/model`). */
  get meta(): ModelMeta | undefined {
    return this.scorer.version === undefined ? undefined : this.holder.current?.meta;
  }

  /** Loads the shadow named now, then follows the pointer every `intervalMs`. */
  async start(intervalMs: number): Promise<void> {
    await this.holder.sync();
    this.holder.follow(intervalMs);
  }

  stop(): void {
    this.holder.stop();
    this.batcher.flush();
  }

  dispose(): void {
    this.holder.dispose();
  }
}
