import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { LayersModel, Tensor } from '@tensorflow/tfjs-node';
import { buildDualInputModel } from '../../src/model/build';
import { loadKerasWeights } from '../../src/model/keras-weights';
import { disposeModel, tf } from '../../src/model/tf';
import { SplitModel } from '../../src/score/split';

/** Scores of the whole model vs the split model (cached text encoder + kernel-lean forward pass). */
function maxDiff(
  model: LayersModel,
  n: number,
  window: number,
  features: number,
  textMaxLen: number,
  vocab: number,
): { d: number; split: SplitModel } {
  const numeric = Float32Array.from({ length: n * window * features }, (_, i) => Math.sin(i * 0.37) * 2);
  const tokens = Int32Array.from({ length: n * textMaxLen }, (_, i) => (i % 7 === 0 ? 0 : (i * 13) % vocab));
  const whole = tf.tidy(() =>
    (
      model.predict([
        tf.tensor3d(numeric, [n, window, features]),
        tf.tensor2d(tokens, [n, textMaxLen], 'int32').toFloat(),
      ]) as Tensor
    ).dataSync(),
  );
  const split = SplitModel.from(model)!;
  const fast = tf.tidy(() => split.predict(numeric, tokens, n, window, features, textMaxLen));
  const again = tf.tidy(() => split.predict(numeric, tokens, n, window, features, textMaxLen)); // from the encoding cache
  let d = 0;
  for (let i = 0; i < n; i++)
    d = Math.max(d, Math.abs(whole[i]! - fast[i]!), Math.abs(whole[i]! - again[i]!));
  return { d, split };
}

test('the fast forward pass scores like model.predict (random weights)', () => {
  const shape = {
    window: 7,
    features: 3,
    textMaxLen: 9,
    vocabSize: 30,
    lstmUnits: 5,
    textLstmUnits: 4,
    embedDim: 3,
    denseUnits: 6,
  };
  const model = buildDualInputModel({ ...shape }, 'both', 3);
  const { d, split } = maxDiff(model, 17, shape.window, shape.features, shape.textMaxLen, shape.vocabSize);
  disposeModel(model);
  split.dispose();
  assert.ok(d < 1e-5, `max abs diff ${d}`);
});

test('the fast forward pass scores like model.predict with the Keras-trained weights of the parity fixture', () => {
  const fixture = JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'keras-model.json'), 'utf8')) as {
    shape: Record<string, number>;
    weights: Parameters<typeof loadKerasWeights>[1];
  };
  const s = fixture.shape as {
    window: number;
    features: number;
    textMaxLen: number;
    vocabSize: number;
    lstmUnits: number;
    textLstmUnits: number;
    embedDim: number;
    denseUnits: number;
  };
  const model = buildDualInputModel(s);
  loadKerasWeights(model, fixture.weights);
  const { d, split } = maxDiff(model, 20, s.window, s.features, s.textMaxLen, s.vocabSize);
  disposeModel(model);
  split.dispose();
  assert.ok(d < 1e-5, `max abs diff ${d}`);
});

test('the split model with stacked sensor LSTMs (PDM_LSTM_LAYERS=2) scores like model.predict', () => {
  const shape = {
    window: 7,
    features: 3,
    textMaxLen: 9,
    vocabSize: 30,
    lstmUnits: 5,
    textLstmUnits: 4,
    embedDim: 3,
    denseUnits: 6,
    lstmLayers: 2,
  };
  const model = buildDualInputModel(shape, 'both', 4);
  assert.deepEqual(
    model.layers.filter((l) => l.name.startsWith('sensor_lstm')).map((l) => l.name),
    ['sensor_lstm', 'sensor_lstm_2'],
  );
  const { d, split } = maxDiff(model, 9, shape.window, shape.features, shape.textMaxLen, shape.vocabSize);
  disposeModel(model);
  split.dispose();
  assert.ok(d < 1e-5, `max abs diff ${d}`);
});
