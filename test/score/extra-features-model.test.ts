import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { Tensor } from '@tensorflow/tfjs-node';
import { AGE_CAP_MS, channelCount } from '../../src/features';
import type { ExtraFeatures } from '../../src/features';
import { buildDualInputModel } from '../../src/model/build';
import { disposeModel, tf } from '../../src/model/tf';
import { createRedis } from '../../src/redis/client';
import { ModelRefusedError, ModelRegistry } from '../../src/registry';
import { disposeScoringModel, featurize, ScoreBatcher } from '../../src/score';
import { KerasTokenizer } from '../../src/tokenize';
import { applyCalibration } from '../../src/train';
import { modelView } from '../../src/worker/views';
import { dropTestResources, testConfig, withTimeout } from '../helpers';

const config = testConfig({
  PDM_WINDOW: '4',
  PDM_TEXT_MAX_LEN: '4',
  PDM_LSTM_UNITS: '3',
  PDM_TEXT_LSTM_UNITS: '2',
  PDM_DENSE_UNITS: '3',
  PDM_VOCAB_SIZE: '20',
});
const redis = createRedis(config);
after(async () => {
  await dropTestResources(config);
  await withTimeout('redis quit', redis.quit());
});

const EXTRAS: ExtraFeatures = {
  channels: ['delta', 'age', 'log-age'],
  deltaLag: 1,
  ageCapMs: AGE_CAP_MS,
  logAgeCapMs: 86_400_000,
};
const SENSORS = ['a', 'b'];
const HOUR = 3_600_000;

test('a version trained with extra channels keeps them in the registry, /model shows them, the worker scores with them', async () => {
  const f = channelCount(SENSORS.length, EXTRAS);
  const model = buildDualInputModel({ ...config.model, features: f }, 'both', 3);
  const tokenizer = KerasTokenizer.fit(['leak alarm', 'routine check'], { numWords: 20 });
  const registry = new ModelRegistry(redis, config.redis.prefix);
  const calibration = { method: 'isotonic' as const, x: [0, 0.3, 0.6, 1], y: [0, 0.05, 0.4, 1] };
  const base = {
    window: config.model.window,
    textMaxLen: config.model.textMaxLen,
    vocabSize: config.model.vocabSize,
    sensors: SENSORS,
    scaler: { mean: [1, 2], std: [1, 0.5] },
    threshold: 0.5,
    metrics: { pr_auc: 0.5 },
    dataSummary: {},
    branches: 'both' as const,
  };
  const meta = await registry.register(model, tokenizer, {
    ...base,
    calibration,
    extraFeatures: { ...EXTRAS, channels: [...EXTRAS.channels] },
  });
  // The same network registered without its extras does not match its own metadata: refused.
  const bare = await registry.register(model, tokenizer, base);
  disposeModel(model);
  await assert.rejects(registry.load(bare.version), (e: unknown) => e instanceof ModelRefusedError);

  const loaded = await registry.load(meta.version);
  try {
    assert.deepEqual(loaded.meta.extraFeatures, EXTRAS);
    assert.deepEqual(loaded.meta.calibration, calibration);
    assert.deepEqual(modelView(loaded.meta).extraFeatures, EXTRAS);
    const spec = { ...loaded.meta, tokenizer: loaded.tokenizer };
    const batcher = new ScoreBatcher(() => loaded, 8, 1);
    for (const [k, firstTs] of [0, 40 * 24 * HOUR, 3 * HOUR].entries()) {
      const readings = [0, 1, 2, 3].map((i) => ({
        ts: 50 * 24 * HOUR + i * HOUR,
        values: { a: i * (k + 1), b: 2 - i },
      }));
      const features = featurize(readings, ['leak'], spec, { firstTs, lastLogTs: readings[1]!.ts });
      assert.equal(features.numeric.length, config.model.window * f);
      const { score } = await batcher.score({ features, modelVersion: meta.version });
      const expected = tf.tidy(() => {
        const out = loaded.model.predict([
          tf.tensor3d(features.numeric, [1, config.model.window, f]),
          tf.tensor2d(Float32Array.from(features.tokens), [1, config.model.textMaxLen]),
        ]) as Tensor;
        return (out.dataSync() as Float32Array)[0]!;
      });
      assert.ok(Math.abs(score - applyCalibration(calibration, expected)) < 1e-4, `${score} vs ${expected}`);
    }
  } finally {
    disposeScoringModel(loaded.model);
  }
});
