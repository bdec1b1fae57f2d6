import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LayersModel, Rank, Tensor, Tensor2D, Tensor3D, Variable } from '@tensorflow/tfjs-node';
import { buildDualInputModel } from '../../src/model/build';
import type { Branches, DualInputShape } from '../../src/model/build';
import { compileForward } from '../../src/model/forward';
import { fusedLstm, fusedLstmAvailable, FusedLstmShapeError } from '../../src/model/fused-lstm';
import { disposeModel, tf } from '../../src/model/tf';

const SHAPE: DualInputShape = {
  window: 7,
  features: 3,
  textMaxLen: 9,
  vocabSize: 30,
  lstmUnits: 5,
  textLstmUnits: 4,
  embedDim: 3,
  denseUnits: 6,
};

/** n windows whose first rows and first tokens are padding (zeros), as featurize pre-pads short inputs. */
function paddedInputs(n: number, shape: DualInputShape): { numeric: Tensor3D; tokens: Tensor2D } {
  const numeric = Float32Array.from({ length: n * shape.window * shape.features }, (_, i) => {
    const row = Math.floor(i / shape.features) % shape.window;
    const sample = Math.floor(i / (shape.features * shape.window));
    return row < sample % 4 ? 0 : Math.sin(i * 0.37) * 2;
  });
  const tokens = Float32Array.from({ length: n * shape.textMaxLen }, (_, i) => {
    const pos = i % shape.textMaxLen;
    const sample = Math.floor(i / shape.textMaxLen);
    return pos < (sample * 3) % shape.textMaxLen ? 0 : 1 + ((i * 13) % (shape.vocabSize - 1));
  });
  return {
    numeric: tf.tensor3d(numeric, [n, shape.window, shape.features]),
    tokens: tf.tensor2d(tokens, [n, shape.textMaxLen]),
  };
}

/** Random, non-trivial weights everywhere (BatchNorm statistics included), so every term is exercised. */
function randomize(model: LayersModel, seed: number): void {
  model.layers.forEach((layer, l) => {
    const weights = layer.getWeights();
    if (weights.length === 0) return;
    const values = weights.map((w, i) =>
      layer.name === 'batchnorm' && i === 3
        ? tf.randomUniform(w.shape, 0.5, 2, 'float32', seed + l * 10 + i)
        : tf.randomNormal(w.shape, 0, 0.5, 'float32', seed + l * 10 + i),
    );
    layer.setWeights(values);
    tf.dispose(values);
  });
}

test('the fused kernels are available on the native backend', () => {
  assert.equal(fusedLstmAvailable(), true);
});

test('one fused LSTM equals tfjs-layers LSTM within 1e-5: last step, sequences, backwards', () => {
  tf.tidy(() => {
    const x = tf.randomNormal<Rank.R3>([6, 8, 5], 0, 1, 'float32', 1);
    for (const [returnSequences, goBackwards] of [
      [false, false],
      [true, false],
      [false, true],
    ] as const) {
      const layer = tf.layers.lstm({
        units: 4,
        recurrentActivation: 'sigmoid',
        returnSequences,
        goBackwards,
      });
      const expected = layer.apply(x) as Tensor;
      const [kernel, recurrent, bias] = layer.getWeights() as [Tensor2D, Tensor2D, Tensor];
      const ours = fusedLstm(x, kernel, recurrent, bias, { returnSequences, goBackwards });
      assert.deepEqual(ours.shape, expected.shape);
      const diff = tf.max(tf.abs(tf.sub(ours, expected))).dataSync()[0]!;
      assert.ok(
        diff <= 1e-5,
        `returnSequences=${returnSequences} goBackwards=${goBackwards}: max abs diff ${diff}`,
      );
      layer.dispose();
    }
  });
});

for (const [branches, layers] of [
  ['both', 1],
  ['both', 2],
  ['sensors', 1],
  ['text', 1],
] as [Branches, number][]) {
  test(`the fused forward pass equals tfjs-layers predict within 1e-5 (${branches}, ${layers} sensor layer(s), padded inputs)`, () => {
    const model = buildDualInputModel({ ...SHAPE, lstmLayers: layers }, branches, 5);
    try {
      randomize(model, 40);
      const forward = compileForward(model);
      assert.ok(forward?.fused, 'the forward pass compiles and runs fused');
      const diff = tf.tidy(() => {
        const { numeric, tokens } = paddedInputs(13, SHAPE);
        const expected = model.predict([numeric, tokens]) as Tensor;
        const ours = forward.head(numeric, forward.hasText ? forward.encodeText(tokens) : undefined);
        return tf.max(tf.abs(tf.sub(ours, expected))).dataSync()[0]!;
      });
      assert.ok(diff <= 1e-5, `max abs diff ${diff}`);
    } finally {
      disposeModel(model);
    }
  });
}

test('fused gradients equal tfjs-layers autodiff within 1e-4 (relative) for every weight of both branches', () => {
  const model = buildDualInputModel({ ...SHAPE, lstmLayers: 2 }, 'both', 9);
  try {
    randomize(model, 70);
    const forward = compileForward(model)!;
    const vars = forward.trainable as Variable[];
    tf.tidy(() => {
      const { numeric, tokens } = paddedInputs(11, SHAPE);
      const r = tf.randomNormal([11, 1], 0, 1, 'float32', 3);
      // Inference mode on both sides: no dropout, BatchNorm on its moving statistics, so the functions are equal.
      const ours = tf.variableGrads(
        () => tf.sum(tf.mul(forward.head(numeric, forward.encodeText(tokens)), r)),
        vars,
      ).grads;
      const reference = tf.variableGrads(
        () => tf.sum(tf.mul(model.apply([numeric, tokens], { training: false }) as Tensor, r)),
        vars,
      ).grads;
      assert.equal(Object.keys(ours).length, vars.length);
      const names = new Set(vars.map((v) => v.name.split('/')[0]));
      for (const layer of [
        'sensor_lstm',
        'sensor_lstm_2',
        'token_embedding',
        'text_bilstm',
        'hidden',
        'batchnorm',
        'risk',
      ])
        assert.ok(names.has(layer), `${layer} is trained`);
      for (const v of vars) {
        const a = ours[v.name]!;
        const b = reference[v.name]!;
        const scale = Math.max(1e-6, tf.max(tf.abs(b)).dataSync()[0]!);
        const rel = tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]! / scale;
        assert.ok(rel <= 1e-4, `${v.name}: relative gradient difference ${rel}`);
      }
    });
  } finally {
    disposeModel(model);
  }
});

test('an empty batch or an empty window never reaches the op: a clear error names the shape', () => {
  tf.tidy(() => {
    const kernel = tf.zeros<Rank.R2>([3, 8]);
    const recurrent = tf.zeros<Rank.R2>([2, 8]);
    const bias = tf.zeros([8]);
    assert.throws(
      () => fusedLstm(tf.zeros([0, 4, 3]), kernel, recurrent, bias, {}),
      (e: unknown) => e instanceof FusedLstmShapeError && /\[0, 4, 3\]/.test(e.message),
    );
    assert.throws(
      () => fusedLstm(tf.zeros([2, 0, 3]), kernel, recurrent, bias, {}),
      /input has shape \[2, 0, 3\]/,
    );
    assert.throws(
      () => fusedLstm(tf.zeros([2, 4, 5]), kernel, recurrent, bias, {}),
      /do not fit input \[2, 4, 5\]/,
    );
  });
});
