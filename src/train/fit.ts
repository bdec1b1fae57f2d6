import type { LayersModel, Tensor } from '@tensorflow/tfjs-node';
import type { ModelShape } from '../config';
import type { Logger } from '../log';
import { buildDualInputModel } from '../model/build';
import type { Branches } from '../model/build';
import { tf } from '../model/tf';
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
  const std = sensors.map((_, i) => (n[i]! > 0 ? Math.sqrt(Math.max(0, sq[i]! / n[i]! - mean[i]! ** 2)) : 1) || 1);
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
    labels: tf.tensor2d(Float32Array.from(windows, (w) => w.label), [windows.length, 1]),
  };
  return { ...t, dispose: () => tf.dispose([t.numeric, t.tokens, t.labels]) };
}

export function predict(model: LayersModel, t: Pick<Tensors, 'numeric' | 'tokens'>, batchSize = 256): Float32Array {
  return tf.tidy(() => (model.predict([t.numeric, t.tokens], { batchSize }) as Tensor).dataSync() as Float32Array);
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
  readonly onEpoch?: (e: { epoch: number; loss: number; valLoss: number; valPrAuc: number | null; seconds: number }) => void;
}

/**
 * Trains the dual-input model with class weights for the imbalance and early stopping on validation
 * loss, restoring the best epoch's weights (tfjs's earlyStopping does not restore them).
 */
export async function fitModel(train: readonly RawWindow[], validation: readonly RawWindow[], opts: FitOptions, logger: Logger): Promise<{ model: LayersModel; epochs: number; samplesPerSecond: number }> {
  const spec: FeatureSpec = { sensors: opts.sensors, scaler: opts.scaler, window: opts.shape.window, textMaxLen: opts.shape.textMaxLen, tokenizer: opts.tokenizer };
  const model = buildDualInputModel({ ...opts.shape, features: opts.sensors.length }, opts.branches, opts.seed);
  const tr = toTensors(train, spec);
  const va = toTensors(validation, spec);
  const positives = train.filter((w) => w.label === 1).length;
  const negatives = train.length - positives;
  // Balanced class weights: n / (2 · n_class), as scikit-learn's compute_class_weight('balanced').
  const classWeight = { 0: train.length / (2 * Math.max(1, negatives)), 1: train.length / (2 * Math.max(1, positives)) };
  let best: { valLoss: number; weights: Tensor[]; epoch: number } | undefined;
  let sinceBest = 0;
  let epochStart = Date.now();
  let trainedSamples = 0;
  const fitStart = Date.now();
  try {
    await model.fit([tr.numeric, tr.tokens], tr.labels, {
      epochs: opts.epochs,
      batchSize: opts.batchSize,
      shuffle: true,
      classWeight,
      validationData: [[va.numeric, va.tokens], va.labels],
      verbose: 0,
      callbacks: {
        onEpochBegin: async () => {
          epochStart = Date.now();
        },
        onEpochEnd: async (epoch, logs) => {
          trainedSamples += train.length;
          const valLoss = Number(logs?.val_loss ?? Infinity);
          const valPrAuc = prAuc(Float32Array.from(validation, (w) => w.label), predict(model, va));
          opts.onEpoch?.({ epoch: epoch + 1, loss: Number(logs?.loss), valLoss, valPrAuc, seconds: (Date.now() - epochStart) / 1000 });
          if (!best || valLoss < best.valLoss) {
            best?.weights.forEach((w) => w.dispose());
            best = { valLoss, weights: model.getWeights().map((w) => w.clone()), epoch: epoch + 1 };
            sinceBest = 0;
          } else if (++sinceBest > opts.patience) {
            model.stopTraining = true;
          }
        },
      },
    });
  } finally {
    tr.dispose();
    va.dispose();
  }
  if (best) {
    model.setWeights(best.weights);
    best.weights.forEach((w) => w.dispose());
    logger.info('restored best epoch', { epoch: best.epoch, valLoss: best.valLoss });
  }
  return { model, epochs: best?.epoch ?? 0, samplesPerSecond: trainedSamples / ((Date.now() - fitStart) / 1000) };
}
