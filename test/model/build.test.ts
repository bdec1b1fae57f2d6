import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildDualInputModel } from '../../src/model/build';
import { tf } from '../../src/model/tf';

test('the native TensorFlow backend is in use', () => {
  assert.equal(tf.getBackend(), 'tensorflow');
});

test('a small model trains on the native backend and learns a separable rule', async () => {
  const x = tf.randomNormal([256, 4], 0, 1, 'float32', 1);
  const y = tf.tidy(() => x.slice([0, 0], [-1, 1]).greater(0).cast('float32'));
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [4], units: 8, activation: 'relu' }),
      tf.layers.dense({ units: 1, activation: 'sigmoid' }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(0.05), loss: 'binaryCrossentropy', metrics: ['accuracy'] });
  const history = await model.fit(x, y, { epochs: 30, batchSize: 32, verbose: 0 });
  const acc = history.history.acc ?? history.history.accuracy;
  assert.ok(acc && Number(acc[acc.length - 1]) > 0.9, `accuracy ${String(acc?.at(-1))}`);
  const p = tf.tidy(() =>
    (
      model.predict(
        tf.tensor2d([
          [3, 0, 0, 0],
          [-3, 0, 0, 0],
        ]),
      ) as ReturnType<typeof tf.tensor>
    ).dataSync(),
  );
  assert.ok(p[0]! > 0.8 && p[1]! < 0.2, `predictions ${String(p)}`);
  tf.dispose([x, y]);
  model.dispose();
});

test('the dual-input model of docs/model.md builds with the configured shapes and predicts a batch', () => {
  const shape = {
    window: 24,
    features: 4,
    textMaxLen: 50,
    vocabSize: 1000,
    lstmUnits: 64,
    textLstmUnits: 64,
    embedDim: 8,
    denseUnits: 32,
  };
  const model = buildDualInputModel(shape);
  try {
    assert.deepEqual(
      model.inputs.map((i) => i.shape),
      [
        [null, 24, 4],
        [null, 50],
      ],
    );
    assert.deepEqual(model.outputs[0]!.shape, [null, 1]);
    const predict = () =>
      tf.tidy(() => {
        const numeric = tf.randomNormal([16, 24, 4]);
        const tokens = tf.randomUniform([16, 50], 0, 1000, 'int32').cast('float32');
        return (model.predict([numeric, tokens]) as ReturnType<typeof tf.tensor>).dataSync();
      });
    predict(); // the first call creates the layers' cached constants, which live as long as the model
    const before = tf.memory().numTensors;
    const scores = predict();
    assert.equal(scores.length, 16);
    assert.ok(Array.from(scores).every((s) => s >= 0 && s <= 1));
    assert.equal(tf.memory().numTensors, before);
  } finally {
    model.dispose();
  }
});
