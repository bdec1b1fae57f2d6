import assert from 'node:assert/strict';
import { test } from 'node:test';
import { explainWindow, explainWindows } from '../../src/explain';
import type { ExplainableModel, Explanation } from '../../src/explain';
import { buildDualInputModel } from '../../src/model/build';
import { tf } from '../../src/model/tf';
import { disposeScoringModel } from '../../src/score';
import { KerasTokenizer } from '../../src/tokenize';

const SHAPE = {
  window: 5,
  features: 3,
  textMaxLen: 8,
  vocabSize: 20,
  lstmUnits: 3,
  textLstmUnits: 2,
  embedDim: 2,
  denseUnits: 4,
};
const SENSORS = ['volt', 'pressure', 'vibration'];

/**
 * A model whose score depends on exactly one sensor (pressure, its last step) and one word ("grinding"):
 * the sensor LSTM's unit 0 reads feature 1 with saturated gates (forget shut, so only the last step
 * counts); the text LSTM's forward unit 0 sums the occurrences of the one word whose embedding is non-zero
 * (forget open); every other weight is zero. The head adds the two and squashes.
 */
function handWeighted(tokenizer: KerasTokenizer): ExplainableModel {
  const model = buildDualInputModel(SHAPE);
  const set = (name: string, make: (shapes: number[][]) => Float32Array[]) => {
    const layer = model.getLayer(name);
    const shapes = layer.getWeights().map((w) => w.shape);
    const tensors = make(shapes).map((v, i) => tf.tensor(v, shapes[i]));
    layer.setWeights(tensors);
    tf.dispose(tensors);
  };
  const zeros = (s: number[]) => new Float32Array(s.reduce((a, b) => a * b, 1));
  const gates = (bias: Float32Array, units: number, forget: number) => {
    for (let j = 0; j < units; j++) {
      bias[j] = 20; // input gate open
      bias[units + j] = forget;
      bias[3 * units + j] = 20; // output gate open
    }
    return bias;
  };
  const u = SHAPE.lstmUnits;
  const tu = SHAPE.textLstmUnits;
  set('sensor_lstm', ([kernel, recurrent, bias]) => {
    const k = zeros(kernel!);
    k[1 * 4 * u + 2 * u] = 1; // feature 1 (pressure) → cell candidate of unit 0 (gate order i, f, c, o)
    return [k, zeros(recurrent!), gates(zeros(bias!), u, -20)];
  });
  const grinding = tokenizer.wordIndex.get('grinding')!;
  set('token_embedding', ([table]) => {
    const t = zeros(table!);
    t[grinding * SHAPE.embedDim] = 1;
    return [t];
  });
  set('text_bilstm', (shapes) => {
    const [fk, fr, fb, bk, br, bb] = shapes;
    const k = zeros(fk!);
    k[2 * tu] = 1; // embedding dim 0 → candidate of forward unit 0
    return [k, zeros(fr!), gates(zeros(fb!), tu, 20), zeros(bk!), zeros(br!), zeros(bb!)];
  });
  set('hidden', ([kernel, bias]) => {
    const k = zeros(kernel!);
    const d = SHAPE.denseUnits;
    k[0 * d + 0] = 1; // sensor unit 0 → hidden 0
    k[u * d + 1] = 1; // text forward unit 0 → hidden 1
    return [k, zeros(bias!)];
  });
  set('batchnorm', (s) =>
    s.map((shape, i) => (i === 0 || i === 3 ? new Float32Array(shape[0]!).fill(1) : zeros(shape))),
  );
  set('risk', ([kernel]) => {
    const k = zeros(kernel!);
    k[0] = 5;
    k[1] = 5;
    return [k, Float32Array.of(-5)];
  });
  const meta = {
    version: 'v-hand',
    sensors: SENSORS,
    scaler: { mean: [170, 100, 40], std: [10, 5, 4] },
    window: SHAPE.window,
    textMaxLen: SHAPE.textMaxLen,
    calibration: undefined,
  };
  return { model, meta, tokenizer };
}

const tokenizer = KerasTokenizer.fit(
  ['grinding noise near bearing', 'routine inspection ok noise', 'replaced filter'],
  { numWords: SHAPE.vocabSize },
);
const readings = Array.from({ length: SHAPE.window }, (_, i) => ({
  ts: i * 3_600_000,
  values: { volt: 190 + i, pressure: 108, vibration: 30 - i },
}));
const words = ['routine', 'inspection', 'ok', 'grinding', 'noise', 'near', 'bearing', 'replaced', 'filter'];

test('occlusion names exactly the sensor and the word the model depends on', () => {
  const loaded = handWeighted(tokenizer);
  explainWindow(loaded, { readings, words }, { maxPasses: 1, top: 1 }); // tfjs keeps a few per-layer tensors on a model's first call
  const before = tf.memory().numTensors;
  const e = explainWindow(loaded, { readings, words }, { maxPasses: 32, top: 20 });
  assert.equal(tf.memory().numTensors, before, 'no tensor outlives an explanation');
  disposeScoringModel(loaded.model);
  assert.equal(e.modelVersion, 'v-hand');
  // Nine words, text length 8: pre-truncation drops the oldest ("routine"), which is then no candidate.
  assert.equal(e.candidates, SENSORS.length + 8);
  assert.ok(!e.attributions.some((a) => a.name === 'routine'));
  assert.equal(e.passes, e.candidates);
  assert.equal(e.skipped, 0);
  const moved = e.attributions.filter((a) => Math.abs(a.drop) > 1e-6).map((a) => `${a.kind}:${a.name}`);
  assert.deepEqual(moved.sort(), ['sensor:pressure', 'word:grinding']);
  // The drops are the score minus the occluded score, computed offline from the hand-set weights.
  const sig = (z: number) => 1 / (1 + Math.exp(-z));
  const bn = Math.sqrt(1 + 1e-3);
  const hs = Math.tanh(Math.tanh((108 - 100) / 5));
  const ht = Math.tanh(Math.tanh(1));
  const score = sig((5 * hs + 5 * ht) / bn - 5);
  assert.ok(Math.abs(e.score - score) < 1e-5, `score ${e.score} vs ${score}`);
  const drop = (name: string) => e.attributions.find((a) => a.name === name)!.drop;
  assert.ok(Math.abs(drop('pressure') - (score - sig((5 * ht) / bn - 5))) < 1e-5);
  assert.ok(Math.abs(drop('grinding') - (score - sig((5 * hs) / bn - 5))) < 1e-5);
});

test('the number of extra forward passes is bounded; sensors first, then the most recent words', () => {
  const loaded = handWeighted(tokenizer);
  const e = explainWindow(loaded, { readings, words }, { maxPasses: 4, top: 2 });
  disposeScoringModel(loaded.model);
  assert.equal(e.passes, 4);
  assert.equal(e.skipped, e.candidates - 4);
  assert.equal(e.attributions.length, 2);
  // Three sensors and the most recent word ("filter") were evaluated: "grinding" was not among them.
  assert.deepEqual(
    e.attributions.map((a) => a.name),
    ['pressure', e.attributions[1]!.name],
  );
  assert.ok(!e.attributions.some((a) => a.name === 'grinding'));
  assert.ok(e.millis >= 0);
});

test('explaining several windows in one pass gives each the attributions of its own explanation', () => {
  const loaded = handWeighted(tokenizer);
  const windows = [
    { readings, words },
    { readings: readings.map((r) => ({ ...r, values: { ...r.values, pressure: 95 } })), words: ['ok'] },
    { readings, words: [] },
  ];
  const options = { maxPasses: 32, top: 20 };
  const alone = windows.map((w) => explainWindow(loaded, w, options));
  const together = explainWindows(loaded, windows, options);
  // With the served score given, the base row is not recomputed and the drops are taken from it.
  const served = explainWindows(
    loaded,
    windows.map((w, i) => ({ ...w, servedScore: alone[i]!.score })),
    options,
  );
  disposeScoringModel(loaded.model);
  for (const [i, e] of alone.entries()) {
    const close = (x: Explanation) => {
      assert.equal(x.candidates, e.candidates);
      assert.deepEqual(
        x.attributions.map((a) => a.name),
        e.attributions.map((a) => a.name),
      );
      x.attributions.forEach((a, j) => assert.ok(Math.abs(a.drop - e.attributions[j]!.drop) < 1e-6));
      assert.ok(Math.abs(x.score - e.score) < 1e-6);
    };
    close(together[i]!);
    close(served[i]!);
  }
  assert.deepEqual(explainWindows(loaded, [], options), []);
});
