import type { RedisClient } from '../src/redis/client';
import type { Config } from '../src/config';
import { buildDualInputModel } from '../src/model/build';
import { disposeModel, tf } from '../src/model/tf';
import { ModelRegistry } from '../src/registry';
import type { ModelMeta } from '../src/registry';
import { KerasTokenizer } from '../src/tokenize';
import type { Calibration } from '../src/train';

/**
 * A dual-input model whose weights are set by hand so that its score is a known function of the last
 * reading of sensor `v` alone: the sensor LSTM's unit 0 has saturated gates (input and output open, forget
 * shut), so h = tanh(tanh(x)); the text branch is all zeros; the head is relu → batch-norm → sigmoid.
 * Tests compute the expected score (and so the expected alerts) offline from the same inputs.
 */
/** The smallest model shape the registry tests need (registerKnownModel builds it in milliseconds). */
export const TINY_MODEL_ENV = {
  PDM_WINDOW: '4',
  PDM_LSTM_UNITS: '2',
  PDM_TEXT_LSTM_UNITS: '2',
  PDM_DENSE_UNITS: '2',
  PDM_TEXT_MAX_LEN: '4',
  PDM_VOCAB_SIZE: '20',
} as const;

export const KNOWN = { k: 10, b: -5, eps: 1e-3 };
export function knownScore(x: number): number {
  const h = Math.tanh(Math.tanh(x));
  return 1 / (1 + Math.exp(-((KNOWN.k * Math.max(0, h)) / Math.sqrt(1 + KNOWN.eps) + KNOWN.b)));
}

export async function registerKnownModel(
  redis: RedisClient,
  config: Config,
  opts: {
    threshold?: number;
    promote?: boolean;
    tag?: string;
    sensor?: string;
    scaler?: { mean: number; std: number };
    calibration?: Calibration;
  } = {},
): Promise<ModelMeta> {
  const shape = { ...config.model, features: 1 };
  const model = buildDualInputModel(shape);
  const u = shape.lstmUnits;
  const set = (name: string, make: (shapes: number[][]) => number[][] | Float32Array[]) => {
    const layer = model.getLayer(name);
    const shapes = layer.getWeights().map((w) => w.shape);
    const values = make(shapes);
    const tensors = values.map((v, i) => tf.tensor(v as Float32Array, shapes[i]));
    layer.setWeights(tensors); // copies into the layer's variables
    tf.dispose(tensors);
  };
  const zeros = (s: number[]) => new Float32Array(s.reduce((a, b) => a * b, 1));
  set('sensor_lstm', ([kernel, recurrent, bias]) => {
    const k = zeros(kernel!);
    k[2 * u] = 1; // feature 0 → cell candidate of unit 0 (Keras gate order i, f, c, o)
    const b = zeros(bias!);
    for (let j = 0; j < u; j++) {
      b[j] = 20; // input gate open
      b[u + j] = -20; // forget gate shut: only the last step counts
      b[3 * u + j] = 20; // output gate open
    }
    return [k, zeros(recurrent!), b];
  });
  set('token_embedding', (s) => s.map(zeros));
  set('text_bilstm', (s) => s.map(zeros));
  set('hidden', ([kernel, bias]) => {
    const k = zeros(kernel!);
    k[0] = 1; // hidden unit 0 = relu(h0)
    return [k, zeros(bias!)];
  });
  set('batchnorm', (s) =>
    s.map((shape, i) => (i === 0 || i === 3 ? new Float32Array(shape[0]!).fill(1) : zeros(shape))),
  );
  set('risk', ([kernel]) => {
    const k = zeros(kernel!);
    k[0] = KNOWN.k;
    return [k, Float32Array.of(KNOWN.b)];
  });
  const tokenizer = KerasTokenizer.fit(['grinding noise near bearing', 'routine inspection ok'], {
    numWords: config.model.vocabSize,
  });
  const registry = new ModelRegistry(redis, config.redis.prefix);
  const meta = await registry.register(model, tokenizer, {
    window: config.model.window,
    textMaxLen: config.model.textMaxLen,
    vocabSize: config.model.vocabSize,
    // Another sensor name and scaler let a test score a real stream (the simulator's) by one sensor's z-score.
    sensors: [opts.sensor ?? 'v'],
    scaler: { mean: [opts.scaler?.mean ?? 0], std: [opts.scaler?.std ?? 1] },
    threshold: opts.threshold ?? 0.5,
    ...(opts.calibration ? { calibration: opts.calibration } : {}),
    metrics: { pr_auc: 1 },
    dataSummary: { known: opts.tag ?? 'hand-set weights' },
    branches: 'both',
  });
  disposeModel(model);
  if (opts.promote ?? true) await registry.promote(meta.version);
  return meta;
}
