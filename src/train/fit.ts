import type { LayersModel, Rank, Scalar, Tensor, Tensor2D, Tensor3D } from '@tensorflow/tfjs-node';
import type { ModelShape } from '../config';
import type { Logger } from '../log';
import { buildDualInputModel } from '../model/build';
import type { Branches } from '../model/build';
import { compileForward } from '../model/forward';
import type { ModelForward } from '../model/forward';
import { disposeModel, tf } from '../model/tf';
import { featurize } from '../score';
import type { FeatureSpec } from '../score';
import type { KerasTokenizer } from '../tokenize';
import type { RawWindow } from './dataset';
import { prAuc } from './evaluate';

export interface Scaler {
  readonly mean: number[];
  readonly std: number[];
}

/** Standard scaler over every reading of the training windows (population std, as scikit-learn). */
export function fitScaler(windows: readonly RawWindow[], sensors: readonly string[]): Scaler {
  const sum = new Float64Array(sensors.length);
  const sq = new Float64Array(sensors.length);
  const n = new Float64Array(sensors.length);
  for (const w of windows) {
    // Only the last reading of each window: windows overlap, so this counts every reading about once.
    const r = w.readings[w.readings.length - 1];
    if (!r) continue;
    sensors.forEach((s, i) => {
      const v = r.values[s];
      if (v === undefined) return;
      sum[i]! += v;
      sq[i]! += v * v;
      n[i]! += 1;
    });
  }
  const mean = sensors.map((_, i) => (n[i]! > 0 ? sum[i]! / n[i]! : 0));
  const std = sensors.map(
    (_, i) => (n[i]! > 0 ? Math.sqrt(Math.max(0, sq[i]! / n[i]! - mean[i]! ** 2)) : 1) || 1,
  );
  return { mean, std };
}

export interface Tensors {
  readonly numeric: Tensor;
  readonly tokens: Tensor;
  readonly labels: Tensor;
  dispose(): void;
}

export function toTensors(windows: readonly RawWindow[], spec: FeatureSpec): Tensors {
  const f = spec.sensors.length;
  const numeric = new Float32Array(windows.length * spec.window * f);
  const tokens = new Float32Array(windows.length * spec.textMaxLen);
  windows.forEach((w, i) => {
    const x = featurize(w.readings, w.words, spec);
    numeric.set(x.numeric, i * spec.window * f);
    tokens.set(x.tokens, i * spec.textMaxLen);
  });
  const t = {
    numeric: tf.tensor3d(numeric, [windows.length, spec.window, f]),
    tokens: tf.tensor2d(tokens, [windows.length, spec.textMaxLen]),
    labels: tf.tensor2d(
      Float32Array.from(windows, (w) => w.label),
      [windows.length, 1],
    ),
  };
  return { ...t, dispose: () => tf.dispose([t.numeric, t.tokens, t.labels]) };
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

/** Progress after each training batch: windows `done` of `total` in epoch `epoch` of `epochs`, seconds since the fit began. */
export interface FitProgress {
  epoch: number;
  epochs: number;
  done: number;
  total: number;
  seconds: number;
}

export interface FitOptions {
  readonly shape: ModelShape;
  readonly sensors: readonly string[];
  readonly scaler: Scaler;
  readonly tokenizer: KerasTokenizer;
  readonly epochs: number;
  readonly batchSize: number;
  readonly patience: number;
  readonly seed: number;
  readonly branches: Branches;
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
}

export type TrainingPath = 'fused' | 'layers';

type TrainOptions = Pick<FitOptions, 'epochs' | 'batchSize' | 'patience' | 'seed' | 'onEpoch' | 'onProgress' | 'path'>;

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

let warnedFallback = false;

/**
 * Trains the dual-input model with balanced class weights, shuffled batches and early stopping on
 * validation PR-AUC (patience epochs without improvement), restoring the best epoch's weights.
 * On the native backend every LSTM runs as a fused TensorFlow kernel with its fused gradient
 * (src/model/fused-lstm.ts) in a loop of our own; elsewhere tfjs-layers' model.fit runs, with one warning.
 * The fused loop applies each sensor LSTM's input dropout (one mask per sample, constant over time, as
 * Keras) but not its recurrent dropout, which no fused kernel implements: see docs/fused-lstm.md.
 */
export async function fitModel(
  train: readonly RawWindow[],
  validation: readonly RawWindow[],
  opts: FitOptions,
  logger: Logger,
): Promise<FitResult> {
  if (train.length === 0 || validation.length === 0)
    throw new RangeError(
      `fitModel needs training and validation windows (got ${train.length} and ${validation.length})`,
    );
  const spec: FeatureSpec = {
    sensors: opts.sensors,
    scaler: opts.scaler,
    window: opts.shape.window,
    textMaxLen: opts.shape.textMaxLen,
    tokenizer: opts.tokenizer,
  };
  const model = buildDualInputModel(
    { ...opts.shape, features: opts.sensors.length },
    opts.branches,
    opts.seed,
  );
  const tr = toTensors(train, spec);
  const va = toTensors(validation, spec);
  try {
    return { model, ...(await trainTensors(model, tr, va, opts, logger)) };
  } catch (error) {
    disposeModel(model);
    throw error;
  } finally {
    tr.dispose();
    va.dispose();
  }
}

/** Trains a built model on featurised tensors (fitModel's core; the benchmarks call it directly). */
export async function trainTensors(
  model: LayersModel,
  tr: Tensors,
  va: Tensors,
  opts: TrainOptions,
  logger: Logger,
): Promise<Omit<FitResult, 'model'>> {
  const forward = opts.path === 'layers' ? undefined : compileForward(model);
  if (forward?.fused) {
    try {
      return await fitFused(model, forward, tr, va, opts, logger);
    } catch (error) {
      // A native failure fails this round only: the caller registers nothing and the serving model stays.
      logger.error('fused training failed', { error: (error as Error).message, shape: tr.numeric.shape });
      throw error;
    }
  }
  if (opts.path !== 'layers' && !warnedFallback) {
    warnedFallback = true;
    logger.warn(
      'fused LSTM kernels unavailable on this backend: training through tfjs-layers model.fit (several times slower)',
      { backend: tf.getBackend() },
    );
  }
  return fitLayers(model, tr, va, opts, logger);
}

/** Balanced class weights: n / (2 · n_class), as scikit-learn's compute_class_weight('balanced'). */
function classWeights(labels: Float32Array): { 0: number; 1: number } {
  const positives = labels.reduce((a, y) => a + y, 0);
  const negatives = labels.length - positives;
  return { 0: labels.length / (2 * Math.max(1, negatives)), 1: labels.length / (2 * Math.max(1, positives)) };
}

/** Keeps the best epoch by validation PR-AUC; says when patience has run out. */
class BestEpoch {
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

/** Mean binary cross-entropy of scores (the unweighted validation loss model.fit reports). */
function meanBce(labels: Float32Array, scores: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = Math.min(1 - 1e-7, Math.max(1e-7, scores[i]!));
    sum -= labels[i]! * Math.log(p) + (1 - labels[i]!) * Math.log(1 - p);
  }
  return sum / Math.max(1, labels.length);
}

/** A small seeded generator (mulberry32): shuffles and dropout seeds repeat for a given PDM_TRAIN_SEED. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

async function fitFused(
  model: LayersModel,
  forward: ModelForward,
  tr: Tensors,
  va: Tensors,
  opts: TrainOptions,
  logger: Logger,
): Promise<Omit<FitResult, 'model'>> {
  const n = tr.numeric.shape[0];
  const labels = tr.labels.dataSync() as Float32Array;
  const valLabels = va.labels.dataSync() as Float32Array;
  const weights = classWeights(labels);
  const sampleWeight = tf.tensor2d(
    Float32Array.from(labels, (y) => (y === 1 ? weights[1] : weights[0])),
    [n, 1],
  );
  // Adam as the layers path's 'adam': learning rate 1e-3, betas .9/.999, epsilon 1e-7.
  const optimizer = tf.train.adam(0.001, 0.9, 0.999, 1e-7);
  const best = new BestEpoch(model, opts.patience);
  const random = rng(opts.seed);
  const started = Date.now();
  const epochSeconds: number[] = [];
  const dropout = forward.sensorDropout[0]?.dropout ?? 0;
  try {
    for (let epoch = 1; epoch <= opts.epochs; epoch++) {
      const epochStart = Date.now();
      const order = Int32Array.from({ length: n }, (_, i) => i);
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      let lossSum = 0;
      for (let from = 0; from < n; from += opts.batchSize) {
        const rows = order.subarray(from, Math.min(n, from + opts.batchSize));
        const loss = trainStep(forward, optimizer, tr, sampleWeight, rows, Math.floor(random() * 2 ** 31));
        lossSum += loss * rows.length;
        opts.onProgress?.({
          epoch,
          epochs: opts.epochs,
          done: from + rows.length,
          total: n,
          seconds: (Date.now() - started) / 1000,
        });
        await yieldToLoop(); // the lock renewal and the parent's pipes run between batches
      }
      epochSeconds.push((Date.now() - epochStart) / 1000);
      const valScores = scoreForward(forward, va);
      const valLoss = meanBce(valLabels, valScores);
      const valPrAuc = prAuc(valLabels, valScores);
      opts.onEpoch?.({
        epoch,
        loss: lossSum / n,
        valLoss,
        valPrAuc,
        seconds: epochSeconds[epochSeconds.length - 1]!,
      });
      if (best.offer(epoch, valPrAuc, valLoss)) break;
    }
    return fitResult(best.restore(logger), n, epochSeconds, { path: 'fused', dropout, recurrentDropout: 0 });
  } finally {
    best.dispose();
    optimizer.dispose();
    sampleWeight.dispose();
  }
}

/** What either training path reports: the kept epoch, throughput over the epochs run, and how it trained. */
function fitResult(kept: number, windows: number, epochSeconds: readonly number[], record: TrainingRecord): Omit<FitResult, 'model'> {
  const trainSeconds = epochSeconds.reduce((a, b) => a + b, 0);
  return {
    epochs: kept,
    epochsRun: epochSeconds.length,
    samplesPerSecond: (windows * epochSeconds.length) / Math.max(1e-9, trainSeconds),
    secondsPerEpoch: trainSeconds / Math.max(1, epochSeconds.length),
    record,
  };
}

/** One Adam step on the given rows; returns the batch's weighted loss. */
function trainStep(
  forward: ModelForward,
  optimizer: ReturnType<typeof tf.train.adam>,
  tr: Tensors,
  sampleWeight: Tensor,
  rows: Int32Array,
  seed: number,
): number {
  let stats: [Tensor, Tensor] | undefined;
  const loss = tf.tidy(() => {
    const idx = tf.tensor1d(rows, 'int32');
    const numeric = tf.gather(tr.numeric, idx) as Tensor3D;
    const tokens = tf.gather(tr.tokens, idx) as Tensor2D;
    const y = tf.gather(tr.labels, idx);
    const w = tf.gather(sampleWeight, idx);
    const masks = forward.sensorDropout.map((d, i) =>
      d.dropout > 0
        ? tf.div<Tensor2D>(
            tf.cast(
              tf.greaterEqual(
                tf.randomUniform([rows.length, d.inputSize], 0, 1, 'float32', seed + i),
                d.dropout,
              ),
              'float32',
            ),
            1 - d.dropout,
          )
        : tf.ones<Rank.R2>([rows.length, d.inputSize]),
    );
    const cost = optimizer.minimize(
      () => {
        const pass = forward.train(numeric, tokens, masks);
        stats = [tf.keep(pass.batchMean), tf.keep(pass.batchVariance)];
        // Binary cross-entropy from logits (stable for large |z|), weighted per sample, averaged over the batch.
        const z = pass.logits;
        const perSample = tf.add(tf.sub(tf.relu(z), tf.mul(z, y)), tf.log1p(tf.exp(tf.neg(tf.abs(z)))));
        return tf.mean<Scalar>(tf.mul(perSample, w));
      },
      true,
      [...forward.trainable],
    );
    return cost!.dataSync()[0]!;
  });
  if (stats) {
    forward.updateBatchNorm(...stats);
    tf.dispose(stats);
  }
  return loss;
}

/** Scores through the forward pass in batches of 256 (validation, holdout). */
function scoreForward(
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

/** tfjs-layers' model.fit: the path where the fused kernels cannot run. */
async function fitLayers(
  model: LayersModel,
  tr: Tensors,
  va: Tensors,
  opts: TrainOptions,
  logger: Logger,
): Promise<Omit<FitResult, 'model'>> {
  const n = tr.numeric.shape[0];
  const labels = tr.labels.dataSync() as Float32Array;
  const valLabels = va.labels.dataSync() as Float32Array;
  const best = new BestEpoch(model, opts.patience);
  const epochSeconds: number[] = [];
  let epochStart = Date.now();
  const started = Date.now();
  const sensorLstm = model.layers.find((l) => l.name === 'sensor_lstm')?.getConfig() as
    { dropout?: number; recurrentDropout?: number } | undefined;
  try {
    await model.fit([tr.numeric, tr.tokens], tr.labels, {
      epochs: opts.epochs,
      batchSize: opts.batchSize,
      shuffle: true,
      classWeight: classWeights(labels),
      validationData: [[va.numeric, va.tokens], va.labels],
      verbose: 0,
      callbacks: {
        onEpochBegin: async () => {
          epochStart = Date.now();
        },
        onBatchEnd: async (batch) => {
          const epoch = epochSeconds.length + 1;
          opts.onProgress?.({
            epoch,
            epochs: opts.epochs,
            done: Math.min(n, (batch + 1) * opts.batchSize),
            total: n,
            seconds: (Date.now() - started) / 1000,
          });
        },
        onEpochEnd: async (epoch, logs) => {
          epochSeconds.push((Date.now() - epochStart) / 1000);
          const valLoss = Number(logs?.val_loss ?? Infinity);
          const valPrAuc = prAuc(valLabels, predict(model, va));
          opts.onEpoch?.({
            epoch: epoch + 1,
            loss: Number(logs?.loss),
            valLoss,
            valPrAuc,
            seconds: epochSeconds[epochSeconds.length - 1]!,
          });
          if (best.offer(epoch + 1, valPrAuc, valLoss)) model.stopTraining = true;
        },
      },
    });
    return fitResult(best.restore(logger), n, epochSeconds, {
      path: 'layers',
      dropout: sensorLstm?.dropout ?? 0,
      recurrentDropout: sensorLstm?.recurrentDropout ?? 0,
    });
  } finally {
    best.dispose();
  }
}
