import type { Tensor } from '@tensorflow/tfjs-node';
import { StaleModelError } from '../errors';
import type { Metrics } from '../metrics';
import type { LoadedModel, ModelMeta } from '../registry';
import { tf } from '../model/tf';
import { channelCount } from '../features';
import type { Features } from './features';
import { splitFor } from './split';
import { applyCalibration } from '../train/calibrate';

export interface ScoreRequest {
  readonly features: Features;
  /** The model version the features were built for; a swap between featurising and flushing re-routes. */
  readonly modelVersion: string;
}

export interface ScoreResult {
  readonly score: number;
  readonly modelVersion: string;
  /** The metadata of the version that scored: its threshold decides the alert, even after a swap. */
  readonly meta: ModelMeta;
}

interface Pending {
  readonly request: ScoreRequest;
  readonly resolve: (r: ScoreResult) => void;
  readonly reject: (e: Error) => void;
}

export { StaleModelError };

/**
 * Micro-batches scoring across machines and partitions: a batch is flushed when it reaches `batchSize`
 * or when its oldest request has waited `maxWaitMs`. Each flush runs one model call inside tf.tidy, so
 * no tensor outlives it. Requests built for a model that is no longer current are rejected with
 * StaleModelError and re-featurised by the caller, so every record is scored exactly once, by a version
 * that is named in its output.
 *
 * A model call never runs inside the caller's turn and at most one runs per event-loop turn: a full batch
 * is scored on the next turn (setImmediate), and a queue longer than one batch is scored one batch per
 * turn, so that timers, heartbeats and fetches get the loop in between however much is queued.
 */
export class ScoreBatcher {
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;

  constructor(
    private readonly model: () => LoadedModel | undefined,
    private readonly batchSize: number,
    private readonly maxWaitMs: number,
    private readonly metrics?: Metrics,
  ) {}

  score(request: ScoreRequest): Promise<ScoreResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      // maxWaitMs 0: everything submitted in this turn (a batch's windows, other partitions' batches
      // handled in the same turn) goes in one call on the next turn, without a timer's delay.
      if (this.queue.length >= this.batchSize || this.maxWaitMs === 0) this.flushSoon();
      else
        this.timer ??= setTimeout(() => {
          this.timer = undefined;
          this.flushSoon();
        }, this.maxWaitMs);
    });
  }

  /** Starts scoring everything queued now, one batch per turn (also called on shutdown to finish what is in flight). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.flushSoon();
  }

  private flushSoon(): void {
    this.immediate ??= setImmediate(() => this.flushOne());
  }

  private flushOne(): void {
    this.immediate = undefined;
    const batch = this.queue.splice(0, this.batchSize);
    if (this.queue.length >= this.batchSize || (this.queue.length > 0 && this.timer === undefined)) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.flushSoon();
    }
    if (batch.length) this.run(batch);
  }

  private run(batch: Pending[]): void {
    const loaded = this.model();
    const live = batch.filter((p) => {
      if (loaded && p.request.modelVersion === loaded.meta.version) return true;
      p.reject(
        new StaleModelError(
          `features built for ${p.request.modelVersion}, serving ${loaded?.meta.version ?? 'none'}`,
        ),
      );
      return false;
    });
    if (!loaded || live.length === 0) return;
    const { window, sensors, textMaxLen, version, extraFeatures } = loaded.meta;
    const f = channelCount(sensors.length, extraFeatures);
    const started = process.hrtime.bigint();
    try {
      const scores = tf.tidy(() => {
        const numeric = new Float32Array(live.length * window * f);
        const tokens = new Int32Array(live.length * textMaxLen);
        live.forEach((p, i) => {
          numeric.set(p.request.features.numeric, i * window * f);
          tokens.set(p.request.features.tokens, i * textMaxLen);
        });
        const split = splitFor(loaded.model);
        if (split) return split.predict(numeric, tokens, live.length, window, f, textMaxLen);
        const out = loaded.model.predict([
          tf.tensor3d(numeric, [live.length, window, f]),
          tf.tensor2d(tokens, [live.length, textMaxLen], 'int32').toFloat(),
        ]) as Tensor;
        return out.dataSync();
      });
      this.metrics?.scoreDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
      this.metrics?.scoreBatchSize.observe(live.length);
      this.metrics?.scores.inc(live.length);
      // Served scores are calibrated probabilities when the model carries a calibration (its threshold is on
      // that scale); older models without one serve the raw output, as they always did.
      live.forEach((p, i) =>
        p.resolve({
          score: applyCalibration(loaded.meta.calibration, scores[i] ?? Number.NaN),
          modelVersion: version,
          meta: loaded.meta,
        }),
      );
    } catch (error) {
      live.forEach((p) => p.reject(error as Error));
    }
  }
}
