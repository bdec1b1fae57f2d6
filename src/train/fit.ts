import type { LayersModel } from '@tensorflow/tfjs-node';
import type { ModelShape } from '../config';
import type { Logger } from '../log';
import { buildDualInputModel } from '../model/build';
import type { Branches } from '../model/build';
import { compileForward } from '../model/forward';
import { disposeModel, tf } from '../model/tf';
import { featurize } from '../score';
import type { FeatureSpec } from '../score';
import type { KerasTokenizer } from '../tokenize';
import { channelCount } from '../features';
import type { ExtraFeatures } from '../features';
import { weightsOf } from './dataset';
import type { RawWindow } from './dataset';
import type { FitResult, Tensors, TrainOptions } from './fit-common';
import { fitFused } from './fit-fused';
import { fitLayers } from './fit-layers';

export { predict } from './fit-common';
export type {
  FitProgress,
  FitResult,
  Tensors,
  TrainingPath,
  TrainingRecord,
  TrainOptions,
} from './fit-common';

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
      // Own properties only: a sensor named `toString` absent from this reading must not read the inherited function.
      if (!Object.hasOwn(r.values, s)) return;
      const v = r.values[s]!;
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

export function toTensors(windows: readonly RawWindow[], spec: FeatureSpec): Tensors {
  const f = channelCount(spec.sensors.length, spec.extraFeatures);
  const numeric = new Float32Array(windows.length * spec.window * f);
  const tokens = new Float32Array(windows.length * spec.textMaxLen);
  windows.forEach((w, i) => {
    const x = featurize(w.readings, w.words, spec, w.context);
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
  // Only when some window weighs other than 1, so unweighted data trains exactly as before.
  const weights = weightsOf(windows);
  return {
    ...t,
    ...(weights ? { weights } : {}),
    dispose: () => tf.dispose([t.numeric, t.tokens, t.labels]),
  };
}

export interface FitOptions extends TrainOptions {
  readonly shape: ModelShape;
  readonly sensors: readonly string[];
  readonly scaler: Scaler;
  readonly tokenizer: KerasTokenizer;
  readonly branches: Branches;
  /** Extra sensor-branch channels (PDM_EXTRA_FEATURES); they widen the sensor input, nothing else. */
  readonly extraFeatures?: ExtraFeatures | undefined;
}

let warnedFallback = false;

/**
 * Trains the dual-input model with balanced class weights times each window's importance weight, shuffled batches and early stopping on
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
    extraFeatures: opts.extraFeatures,
  };
  const model = buildDualInputModel(
    { ...opts.shape, features: channelCount(opts.sensors.length, opts.extraFeatures) },
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
      return await fitFused(model, forward, { tr, va }, opts, logger);
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
  return fitLayers(model, { tr, va }, opts, logger);
}
