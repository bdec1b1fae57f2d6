import type { Message } from 'kafkajs';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import type { ScoreBatcher } from '../score';
import { scoreRecord } from '../worker/messages';
import type { ModelHolder } from '../worker/model-holder';
import type { Scoring, ShadowPort } from '../worker/ports';
import { ServingModel } from '../worker/scorer';

/** Windows submitted per event-loop turn, as the champion's loop does; a heartbeat goes between slices. */
const SHADOW_SLICE = 256;

export interface ShadowOptions {
  /** The scores topic; without one the shadow has nowhere to go and is not scored (a warning, once per version). */
  readonly scoresTopic: string | undefined;
  /** The champion's version now: a shadow equal to it (promoted meanwhile) is not scored twice. */
  readonly championVersion: () => string | undefined;
}

/**
 * Champion/challenger: scores every window the champion scored with the version the registry's `shadow`
 * pointer names (its own holder and micro-batcher, so its forward passes batch across partitions like the
 * champion's), after the champion, so the champion's scores never wait for it. Its records go to the scores
 * topic only: the caller applies the alert policy to the champion's scores alone.
 */
export class ShadowScorer implements ShadowPort {
  private readonly model: ServingModel;
  private warnedNoTopic: string | undefined;

  constructor(
    private readonly holder: ModelHolder,
    batcher: ScoreBatcher,
    private readonly options: ShadowOptions,
    private readonly metrics: Pick<Metrics, 'shadowScores' | 'shadowFailures'>,
    private readonly logger: Logger,
  ) {
    this.model = new ServingModel(holder, batcher, {});
  }

  /** The shadow version being scored now, if any. */
  get version(): string | undefined {
    const version = this.holder.current?.meta.version;
    if (!version || version === this.options.championVersion() || !this.options.scoresTopic) return undefined;
    return version;
  }

  async score(windows: readonly Scoring[], heartbeat: () => Promise<void>): Promise<Message[] | undefined> {
    const version = this.holder.current?.meta.version;
    if (version && !this.options.scoresTopic && this.warnedNoTopic !== version) {
      this.warnedNoTopic = version;
      this.logger.warn('a shadow version is set but PDM_TOPIC_SCORES is not: shadow scoring is off', {
        version,
      });
    }
    if (this.version === undefined) return undefined;
    const records: Message[] = [];
    const scored = new Map<string, number>();
    try {
      for (let start = 0; start < windows.length; start += SHADOW_SLICE) {
        if (start > 0) await heartbeat();
        const slice = windows.slice(start, start + SHADOW_SLICE);
        const results = await Promise.all(slice.map((s) => this.model.score(s)));
        results.forEach((result, i) => {
          if (!result || !Number.isFinite(result.score)) return;
          records.push(scoreRecord(slice[i]!, result, 'shadow'));
          scored.set(result.modelVersion, (scored.get(result.modelVersion) ?? 0) + 1);
        });
      }
    } catch (error) {
      this.metrics.shadowFailures.inc();
      this.logger.warn("shadow scoring failed; the champion's outputs go out without it", {
        version,
        scored: records.length,
        of: windows.length,
        error: (error as Error).message,
      });
    }
    for (const [v, n] of scored) this.metrics.shadowScores.inc({ version: v }, n);
    return records;
  }
}
