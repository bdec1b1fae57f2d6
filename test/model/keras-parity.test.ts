import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { LayersModel } from '@tensorflow/tfjs-node';
import { buildDualInputModel } from '../../src/model/build';
import type { DualInputShape } from '../../src/model/build';
import { loadKerasWeights } from '../../src/model/keras-weights';
import type { KerasArray, KerasWeights } from '../../src/model/keras-weights';
import { tf } from '../../src/model/tf';
import { featurize } from '../../src/score';
import type { FeatureSpec } from '../../src/score';
import type { TimedValues } from '../../src/state';
import { predict } from '../../src/train/fit';
import { KerasTokenizer, textToWordSequence } from '../../src/tokenize';

/**
 * Written by REAL Keras 2.15 (scripts/keras/gen_model_fixtures.py): the model trained there, its scaler
 * and vocabulary, and Keras's own scores for raw inputs. No Python needed here.
 */
interface Fixture {
  keras: string;
  shape: DualInputShape;
  sensors: string[];
  scaler: { mean: number[]; std: number[] };
  tokenizer: unknown;
  layers: Record<
    string,
    { className: string; activation?: string; recurrent_activation?: string; epsilon?: number }
  >;
  weights: Record<string, KerasArray[]>;
  inputs: { readings: TimedValues[]; logs: string[]; kerasTokens: number[]; kerasScore: number }[];
}
const fixture = JSON.parse(readFileSync(join(__dirname, '../fixtures/keras-model.json'), 'utf8')) as Fixture;

const TOLERANCE = 1e-4;
const spec: FeatureSpec = {
  sensors: fixture.sensors,
  scaler: fixture.scaler,
  window: fixture.shape.window,
  textMaxLen: fixture.shape.textMaxLen,
  tokenizer: KerasTokenizer.fromJSON(fixture.tokenizer),
};
// What the worker does with each log (src/worker/worker.ts): split its text, keep the words oldest first.
const features = fixture.inputs.map((input) =>
  featurize(
    input.readings,
    input.logs.flatMap((text) => textToWordSequence(text)),
    spec,
  ),
);
const kerasScores = fixture.inputs.map((input) => input.kerasScore);

function kerasModel(weights: KerasWeights = fixture.weights): LayersModel {
  const model = buildDualInputModel(fixture.shape, 'both', 1);
  loadKerasWeights(model, weights);
  return model;
}

/** Our pipeline's scores for the fixture's raw inputs: featurize (scaler, tokenizer, padding), then tfjs. */
function score(model: LayersModel): number[] {
  const n = features.length;
  const numeric = new Float32Array(n * spec.window * spec.sensors.length);
  const tokens = new Float32Array(n * spec.textMaxLen);
  features.forEach((x, i) => {
    numeric.set(x.numeric, i * x.numeric.length);
    tokens.set(x.tokens, i * x.tokens.length);
  });
  const t = {
    numeric: tf.tensor3d(numeric, [n, spec.window, spec.sensors.length]),
    tokens: tf.tensor2d(tokens, [n, spec.textMaxLen]),
  };
  try {
    return [...predict(model, t)];
  } finally {
    tf.dispose([t.numeric, t.tokens]);
  }
}

const maxAbsDiff = (a: readonly number[], b: readonly number[]): number =>
  Math.max(...a.map((x, i) => Math.abs(x - b[i]!)));

/** A deep copy of the fixture's weights with one layer's arrays replaced. */
function withLayer(name: string, edit: (arrays: KerasArray[]) => KerasArray[]): KerasWeights {
  const copy = structuredClone(fixture.weights);
  copy[name] = edit(copy[name]!);
  return copy;
}

test('the fixture exercises what matters', () => {
  assert.ok(fixture.inputs.length >= 15);
  const scores = kerasScores.slice().sort((a, b) => a - b);
  assert.ok(scores[0]! < 0.4 && scores[scores.length - 1]! > 0.6, 'scores on both sides, none saturated');
  assert.ok(
    features.some((x) => x.imputed.length > 0),
    'a missing sensor',
  );
  assert.ok(
    features.some((x) => x.tokens.every((id) => id === 0)),
    'an input with no known words',
  );
  assert.ok(
    features.some((x) => x.tokens.every((id) => id !== 0)),
    'an input long enough to be truncated',
  );
});

test('our layers are configured as Keras built them (activations, BatchNorm epsilon)', () => {
  const model = buildDualInputModel(fixture.shape, 'both', 1);
  try {
    // Keras names activations in snake_case (hard_sigmoid), tfjs in camelCase (hardSigmoid).
    const camel = (name: string) => name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    for (const [name, keras] of Object.entries(fixture.layers)) {
      const layer = model.getLayer(name);
      const config = layer.getConfig() as Record<string, unknown> & {
        layer?: { config: Record<string, unknown> };
      };
      const ours = config.layer?.config ?? config; // Bidirectional wraps its LSTM's config
      if (keras.activation !== undefined)
        assert.equal(ours.activation, camel(keras.activation), `${name}: activation`);
      if (keras.recurrent_activation !== undefined) {
        assert.equal(
          ours.recurrentActivation,
          camel(keras.recurrent_activation),
          `${name}: recurrent activation (tfjs's LSTM default is hardSigmoid, Keras 2's is sigmoid)`,
        );
      }
      if (keras.epsilon !== undefined) assert.equal(ours.epsilon, keras.epsilon, `${name}: epsilon`);
    }
  } finally {
    model.dispose();
  }
});

test('featurize gives the token ids Keras gave the model (tokenizer + pre-padding)', () => {
  fixture.inputs.forEach((input, i) =>
    assert.deepEqual(
      [...features[i]!.tokens],
      input.kerasTokens,
      `input ${i}: ${JSON.stringify(input.logs)}`,
    ),
  );
});

test(`Keras ${fixture.keras} weights loaded by layer name score like Keras through our pipeline (max abs diff <= ${TOLERANCE})`, (t) => {
  const model = kerasModel();
  try {
    const ours = score(model);
    const diff = maxAbsDiff(ours, kerasScores);
    t.diagnostic(`max abs difference vs Keras over ${ours.length} inputs: ${diff.toExponential(2)}`);
    assert.ok(
      diff <= TOLERANCE,
      `max abs diff ${diff} > ${TOLERANCE}\nours:  ${ours.map((s) => s.toFixed(6)).join(' ')}\nkeras: ${kerasScores.map((s) => s.toFixed(6)).join(' ')}`,
    );
    // Steady state, not a return to zero: tfjs's LSTM keeps its last dropout masks alive between calls.
    const held = tf.memory().numTensors;
    loadKerasWeights(model, fixture.weights);
    score(model);
    assert.equal(tf.memory().numTensors, held, 'loading weights and scoring again leave no tensors behind');
  } finally {
    model.dispose();
  }
});

test('the parity check is sensitive: one perturbed weight or a swapped weight order moves the scores by more than the tolerance', (t) => {
  // Against our own scores with the right weights, so this holds whether or not parity does.
  const reference = kerasModel();
  const loaded = score(reference);
  reference.dispose();
  const variants: [string, KerasWeights][] = [
    // One recurrent-kernel entry of the sensor LSTM, nudged by 0.05.
    [
      'sensor_lstm recurrent kernel [0][0] + 0.05',
      withLayer('sensor_lstm', ([kernel, recurrent, bias]) => {
        const rows = recurrent as number[][];
        rows[0]![0]! += 0.05;
        return [kernel!, rows, bias!];
      }),
    ],
    // Forward and backward halves of the Bidirectional LSTM exchanged (same shapes, so only the scores can tell).
    [
      'text_bilstm backward weights first',
      withLayer('text_bilstm', (arrays) => [...arrays.slice(3), ...arrays.slice(0, 3)]),
    ],
    // BatchNorm moving mean and moving variance exchanged.
    [
      'batchnorm moving mean <-> variance',
      withLayer('batchnorm', ([gamma, beta, mean, variance]) => [gamma!, beta!, variance!, mean!]),
    ],
    // LSTM gate order: input and forget gate columns exchanged in the sensor LSTM's bias.
    [
      'sensor_lstm bias gates i <-> f',
      withLayer('sensor_lstm', ([kernel, recurrent, bias]) => {
        const b = bias as number[];
        const u = b.length / 4;
        return [kernel!, recurrent!, [...b.slice(u, 2 * u), ...b.slice(0, u), ...b.slice(2 * u)]];
      }),
    ],
  ];
  for (const [what, weights] of variants) {
    const model = kerasModel(weights);
    try {
      const diff = maxAbsDiff(score(model), loaded);
      t.diagnostic(`${what}: scores move by up to ${diff.toExponential(2)}`);
      assert.ok(diff > TOLERANCE, `${what} changed the scores by only ${diff}`);
    } finally {
      model.dispose();
    }
  }
});

test('loadKerasWeights names the layer on a mismatch and sets nothing', () => {
  const model = buildDualInputModel(fixture.shape, 'both', 1);
  try {
    const before = model.getLayer('hidden').getWeights()[0]!.arraySync();
    assert.throws(
      () =>
        loadKerasWeights(
          model,
          withLayer('risk', ([kernel, bias]) => [[...(kernel as number[][]), [0]], bias!]),
        ),
      /layer risk, weight 0 \(risk\/kernel\) has shape \[8, 1\], the Keras array has \[9, 1\]/,
    );
    assert.throws(
      () =>
        loadKerasWeights(
          model,
          withLayer('batchnorm', (arrays) => arrays.slice(0, 2)),
        ),
      /layer batchnorm has 4 weight arrays, 2 were given/,
    );
    assert.throws(
      () =>
        loadKerasWeights(
          model,
          withLayer('hidden', ([, bias]) => [[[1, 2], [3]], bias!]),
        ),
      /layer hidden, weight 0 .* not a rectangular array/,
    );
    const { text_bilstm: _, ...partial } = fixture.weights;
    assert.throws(
      () => loadKerasWeights(model, partial),
      /layer text_bilstm has 6 weight arrays but none were given/,
    );
    assert.throws(
      () => loadKerasWeights(model, { ...fixture.weights, dense_7: [] }),
      /no layer named dense_7/,
    );
    // All checks run before any weight is set: the earlier, valid layers are untouched.
    assert.deepEqual(model.getLayer('hidden').getWeights()[0]!.arraySync(), before);
  } finally {
    model.dispose();
  }
});
