import { StaleModelError } from '../errors';
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
  ) {}

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
      const features = featurize(s.readings, s.words, { ...loaded.meta, tokenizer: loaded.tokenizer });
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
