import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { io } from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-node';
import { disposeModel, tf } from '../../src/model/tf';
import { SplitModel } from '../../src/score/split';
import type { RawWindow } from '../../src/train/dataset';
import { boundTrainingSet } from '../../src/train/budget';
import { fitModel, fitScaler, predict, toTensors } from '../../src/train/fit';
import type { FitOptions, FitProgress } from '../../src/train/fit';
import { createLogger } from '../../src/log';
import { KerasTokenizer, textToWordSequence } from '../../src/tokenize';

const SHAPE = {
  window: 6,
  textMaxLen: 8,
  vocabSize: 20,
  lstmUnits: 4,
  textLstmUnits: 4,
  embedDim: 3,
  denseUnits: 4,
};
const SENSORS = ['a', 'b'];

/** A small learnable set: positives drift up in sensor a and often log "leak". */
function windows(n: number, seed: number): RawWindow[] {
  let s = seed;
  const rand = () => (s = (s * 16807) % 2147483647) / 2147483647;
  return Array.from({ length: n }, (_, i) => {
    const label = i % 4 === 0 ? 1 : 0;
    const readings = Array.from({ length: SHAPE.window }, (_, t) => ({
      ts: i * 1000 + t,
      values: { a: rand() + (label ? t * 0.4 : 0), b: rand() },
    }));
    const text = label && rand() < 0.7 ? 'pressure leak alarm' : 'routine check ok';
    return { machineId: `m${i % 3}`, endTs: i * 1000, readings, words: textToWordSequence(text), label };
  });
}

const TRAIN = windows(96, 7);
const VALIDATION = windows(40, 11);
const tokenizer = KerasTokenizer.fit(['pressure leak alarm', 'routine check ok'], {
  numWords: SHAPE.vocabSize,
});
const scaler = fitScaler(TRAIN, SENSORS);
const spec = { sensors: SENSORS, scaler, window: SHAPE.window, textMaxLen: SHAPE.textMaxLen, tokenizer };
const options = (extra: Partial<FitOptions> = {}): FitOptions => ({
  shape: SHAPE,
  sensors: SENSORS,
  scaler,
  tokenizer,
  epochs: 3,
  batchSize: 32,
  patience: 2,
  seed: 1,
  branches: 'both',
  ...extra,
});
const logger = createLogger('error');

/** The registry's round trip: topology + weights out through a save handler, back through fromMemory. */
async function roundTrip(model: LayersModel): Promise<LayersModel> {
  let saved: io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return tf.loadLayersModel(tf.io.fromMemory(saved!));
}

test('a fused training round reports progress per batch, keeps its best epoch and leaves no tensor behind', async () => {
  const before = tf.memory().numTensors;
  const progress: FitProgress[] = [];
  const epochs: number[] = [];
  const fitted = await fitModel(
    TRAIN,
    VALIDATION,
    options({ onProgress: (p) => progress.push(p), onEpoch: (e) => epochs.push(e.epoch) }),
    logger,
  );
  try {
    assert.deepEqual(fitted.record, { path: 'fused', dropout: 0.3, recurrentDropout: 0 });
    assert.ok(
      fitted.epochs >= 1 && fitted.epochs <= fitted.epochsRun,
      `kept epoch ${fitted.epochs} of ${fitted.epochsRun}`,
    );
    assert.equal(
      progress.length,
      Math.ceil(TRAIN.length / 32) * fitted.epochsRun,
      'one progress report per batch',
    );
    assert.deepEqual(progress.at(-1), {
      ...progress.at(-1)!,
      epoch: fitted.epochsRun,
      epochs: 3,
      done: TRAIN.length,
      total: TRAIN.length,
    });
    assert.deepEqual(
      epochs,
      Array.from({ length: fitted.epochsRun }, (_, i) => i + 1),
    );
  } finally {
    disposeModel(fitted.model);
  }
  assert.equal(tf.memory().numTensors, before, 'tensors back to baseline after a training round');
});

test('a model trained fused scores identically through the stored format and the worker path, with no tensor growth over 10k scorings', async () => {
  const fitted = await fitModel(TRAIN, VALIDATION, options({ epochs: 2 }), logger);
  const loaded = await roundTrip(fitted.model);
  const split = SplitModel.from(loaded)!;
  try {
    const t = toTensors(VALIDATION, spec);
    const trained = predict(fitted.model, t);
    const layers = tf.tidy(() =>
      (loaded.predict([t.numeric, t.tokens]) as ReturnType<typeof tf.tensor>).dataSync(),
    );
    const numeric = t.numeric.dataSync() as Float32Array;
    const tokens = Int32Array.from(t.tokens.dataSync());
    t.dispose();
    const n = VALIDATION.length;
    const worker = tf.tidy(() =>
      split.predict(numeric, tokens, n, SHAPE.window, SENSORS.length, SHAPE.textMaxLen),
    );
    for (let i = 0; i < n; i++) {
      assert.ok(
        Math.abs(trained[i]! - layers[i]!) <= 1e-5,
        `window ${i}: trained ${trained[i]} vs stored model ${layers[i]}`,
      );
      assert.ok(
        Math.abs(worker[i]! - layers[i]!) <= 1e-5,
        `window ${i}: worker ${worker[i]} vs stored model ${layers[i]}`,
      );
    }
    const held = tf.memory().numTensors;
    for (let scored = 0; scored < 10_000; scored += n)
      tf.tidy(() => split.predict(numeric, tokens, n, SHAPE.window, SENSORS.length, SHAPE.textMaxLen));
    assert.equal(tf.memory().numTensors, held, 'no tensor growth after 10k scorings');
  } finally {
    disposeModel(fitted.model);
    disposeModel(loaded);
    split.dispose();
  }
});

test('the layers path still trains (the fallback), and records its dropout settings', async () => {
  const fitted = await fitModel(
    TRAIN.slice(0, 48),
    VALIDATION,
    options({ epochs: 1, path: 'layers' }),
    logger,
  );
  disposeModel(fitted.model);
  assert.deepEqual(fitted.record, { path: 'layers', dropout: 0.3, recurrentDropout: 0.3 });
});

test('the training bound keeps every positive and subsamples negatives evenly per machine', () => {
  const all = windows(400, 3);
  const positives = all.filter((w) => w.label === 1).length;
  const { windows: kept, bound } = boundTrainingSet(all, {
    maxBytes: 200 * 100,
    maxWindows: undefined,
    bytesPerWindow: 100,
  });
  assert.equal(bound.used, 200);
  assert.equal(kept.filter((w) => w.label === 1).length, positives, 'no positive dropped');
  assert.equal(bound.negativesDropped, 200);
  for (const m of ['m0', 'm1', 'm2']) {
    const share =
      kept.filter((w) => w.machineId === m && w.label === 0).length /
      all.filter((w) => w.machineId === m && w.label === 0).length;
    assert.ok(Math.abs(share - 100 / 300) < 0.02, `machine ${m} keeps ${share} of its negatives`);
    // The kept negatives stand for all of the machine's: their importance weights add up to its count.
    const weight = kept
      .filter((w) => w.machineId === m && w.label === 0)
      .reduce((n, w) => n + (w.weight ?? 1), 0);
    const count = all.filter((w) => w.machineId === m && w.label === 0).length;
    assert.ok(Math.abs(weight - count) < 1e-9, `machine ${m}: weights ${weight}, negatives ${count}`);
  }
  assert.ok(
    kept.every((w) => w.label === 0 || w.weight === undefined),
    'positives keep weight 1',
  );
  assert.deepEqual(
    boundTrainingSet(all, { maxBytes: 1e9, maxWindows: undefined, bytesPerWindow: 100 }).windows.length,
    400,
    'no bound: every window',
  );
  assert.equal(
    boundTrainingSet(all, { maxBytes: 1e9, maxWindows: 150, bytesPerWindow: 100 }).bound.used,
    150,
  );
});
