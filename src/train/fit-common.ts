import type { LayersModel, Tensor, Tensor2D, Tensor3D } from '@tensorflow/tfjs-node';
import type { Logger } from '../log';
import { compileForward } from '../model/forward';
import type { ModelForward } from '../model/forward';
import { tf } from '../model/tf';

/**
 * What the two training paths (fit-fused.ts, fit-layers.ts) share: the tensors they train on, their
 * options and result, class weights, best-epoch bookkeeping, the validation loss and scoring.
 */

export interface Tensors {
  readonly numeric: Tensor;
  readonly tokens: Tensor;
  readonly labels: Tensor;
  /** Importance weight per window (RawWindow.weight); absent: every window weighs 1. */
  readonly weights?: Float32Array;
  dispose(): void;
}

/** The training and validation tensors of one fit. */
export interface TrainingSets {
  readonly tr: Tensors;
  readonly va: Tensors;
}

/** What a training path returns: everything of FitResult but the model it trained in place. */
export type Trained = Omit<FitResult, 'model'>;

/**
 * The sizes, labels and importance weights both paths read back: training (class weights, shuffles; its
 * weights all 1 unless `weightedLoss`), validation (PR-AUC, loss; always weighted).
 */
export function labelsOf(
  { tr, va }: TrainingSets,
  weightedLoss = false,
): {
  n: number;
  labels: Float32Array;
  weights: Float32Array;
  valLabels: Float32Array;
  valWeights: Float32Array;
} {
  const labels = tr.labels.dataSync() as Float32Array;
  const valLabels = va.labels.dataSync() as Float32Array;
  return {
    n: tr.numeric.shape[0],
    labels,
    weights: (weightedLoss && tr.weights) || new Float32Array(labels.length).fill(1),
    valLabels,
    valWeights: va.weights ?? new Float32Array(valLabels.length).fill(1),
  };
}

/** Progress after each training batch: windows `done` of `total` in epoch `epoch` of `epochs`, seconds since the fit began. */
export interface FitProgress {
  epoch: number;
  epochs: number;
  done: number;
  total: number;
  seconds: number;
}

export type TrainingPath = 'fused' | 'layers';

/** The training settings both paths take (FitOptions without the model's shape and inputs). */
export interface TrainOptions {
  readonly epochs: number;
  readonly batchSize: number;
  readonly patience: number;
  readonly seed: number;
  readonly onEpoch?: (e: {
    epoch: number;
    loss: number;
    valLoss: number;
    valPrAuc: number | null;
    seconds: number;
  }) => void;
  readonly onProgress?: (p: FitProgress) => void;
  /** Forces tfjs-layers' model.fit even where the fused kernels run (benchmarks and the dropout study). */
  readonly path?: TrainingPath;
  /**
   * Importance weights in the loss (PDM_TRAIN_WEIGHTED_LOSS). Off: the loss counts every window once
   * (class-balanced), and the weights only shape the validation figures that pick the epoch.
   */
  readonly weightedLoss?: boolean;
}

/** How a model was trained: recorded in the registry and shown by /model. */
export interface TrainingRecord {
  readonly path: TrainingPath;
  /** Input dropout and recurrent dropout as APPLIED (the stored LSTM config keeps the model's own rates). */
  readonly dropout: number;
  readonly recurrentDropout: number;
}

export interface FitResult {
  readonly model: LayersModel;
  /** The epoch whose weights were kept (best validation PR-AUC). */
  readonly epochs: number;
  readonly epochsRun: number;
  readonly samplesPerSecond: number;
  readonly secondsPerEpoch: number;
  readonly record: TrainingRecord;
}

/**
 * Balanced class weights: n / (2 · n_class), as scikit-learn's compute_class_weight('balanced'), with
 * n_class the class's total importance weight (its window count when every window weighs 1). Times the
 * importance weights they make each class half of the loss and keep its mean weight per window at 1.
 */
export function classWeights(
  labels: Float32Array,
  weights: Float32Array = new Float32Array(labels.length).fill(1),
): { 0: number; 1: number } {
  let [positives, negatives] = [0, 0];
  labels.forEach((y, i) => {
    if (y === 1) positives += weights[i]!;
    else negatives += weights[i]!;
  });
  return { 0: labels.length / (2 * Math.max(1, negatives)), 1: labels.length / (2 * Math.max(1, positives)) };
}

/** Per-window loss weights: importance weight × the balanced weight of the window's class. */
export function lossWeights(labels: Float32Array, weights: Float32Array): Float32Array {
  const byClass = classWeights(labels, weights);
  return Float32Array.from(labels, (y, i) => weights[i]! * (y === 1 ? byClass[1] : byClass[0]));
}

/** Keeps the best epoch by validation PR-AUC; says when patience has run out. */
export class BestEpoch {
  private best: { score: number; weights: Tensor[]; epoch: number } | undefined;
  private since = 0;
  constructor(
    private readonly model: LayersModel,
    private readonly patience: number,
  ) {}

  /** Records an epoch; returns true when training should stop. */
  offer(epoch: number, valPrAuc: number | null, valLoss: number): boolean {
    // PR-AUC is what the promotion gate compares; without validation positives, fall back to the loss.
    const score = valPrAuc ?? -valLoss;
    if (!this.best || score > this.best.score) {
      this.best?.weights.forEach((w) => w.dispose());
      this.best = { score, weights: this.model.getWeights().map((w) => w.clone()), epoch };
      this.since = 0;
      return false;
    }
    return ++this.since > this.patience;
  }

  restore(logger: Logger): number {
    if (!this.best) return 0;
    this.model.setWeights(this.best.weights);
    this.best.weights.forEach((w) => w.dispose());
    logger.info('restored best epoch', { epoch: this.best.epoch, valPrAuc: this.best.score });
    return this.best.epoch;
  }

  dispose(): void {
    this.best?.weights.forEach((w) => w.dispose());
    this.best = undefined;
  }
}

/** Mean binary cross-entropy of scores, weighted by importance (model.fit's validation loss when all weigh 1). */
export function meanBce(labels: Float32Array, scores: Float32Array, weights?: Float32Array): number {
  let [sum, total] = [0, 0];
  for (let i = 0; i < labels.length; i++) {
    const p = Math.min(1 - 1e-7, Math.max(1e-7, scores[i]!));
    const w = weights?.[i] ?? 1;
    sum -= w * (labels[i]! * Math.log(p) + (1 - labels[i]!) * Math.log(1 - p));
    total += w;
  }
  return sum / Math.max(1, total);
}

/** What either training path reports: the kept epoch, throughput over the epochs run, and how it trained. */
export function fitResult(
  kept: number,
  windows: number,
  epochSeconds: readonly number[],
  record: TrainingRecord,
): Omit<FitResult, 'model'> {
  const trainSeconds = epochSeconds.reduce((a, b) => a + b, 0);
  return {
    epochs: kept,
    epochsRun: epochSeconds.length,
    samplesPerSecond: (windows * epochSeconds.length) / Math.max(1e-9, trainSeconds),
    secondsPerEpoch: trainSeconds / Math.max(1, epochSeconds.length),
    record,
  };
}

/** Scores through the forward pass in batches of 256 (validation, holdout). */
export function scoreForward(
  forward: ModelForward,
  t: Pick<Tensors, 'numeric' | 'tokens'>,
  batchSize = 256,
): Float32Array {
  const n = t.numeric.shape[0];
  const out = new Float32Array(n);
  for (let from = 0; from < n; from += batchSize) {
    const size = Math.min(batchSize, n - from);
    const part = tf.tidy(() => {
      const numeric = tf.slice(t.numeric, [from, 0, 0], [size, -1, -1]) as Tensor3D;
      const tokens = tf.slice(t.tokens, [from, 0], [size, -1]) as Tensor2D;
      return forward
        .head(numeric, forward.hasText ? forward.encodeText(tokens) : undefined)
        .dataSync() as Float32Array;
    });
    out.set(part, from);
  }
  return out;
}

/** Scores through the fused forward pass where it applies (same outputs, several times faster), else model.predict. */
export function predict(
  model: LayersModel,
  t: Pick<Tensors, 'numeric' | 'tokens'>,
  batchSize = 256,
): Float32Array {
  const forward = compileForward(model);
  if (forward?.fused) return scoreForward(forward, t, batchSize);
  return tf.tidy(
    () => (model.predict([t.numeric, t.tokens], { batchSize }) as Tensor).dataSync() as Float32Array,
  );
}
