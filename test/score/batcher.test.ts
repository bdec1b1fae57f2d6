import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { createRedis } from '../../src/redis/client';
import { ModelRegistry } from '../../src/registry';
import { disposeScoringModel, featurize, ScoreBatcher } from '../../src/score';
import { applyCalibration } from '../../src/train';
import { knownScore, registerKnownModel } from '../known-model';
import { dropTestResources, testConfig, withTimeout } from '../helpers';

const config = testConfig({
  PDM_WINDOW: '3',
  PDM_TEXT_MAX_LEN: '4',
  PDM_LSTM_UNITS: '2',
  PDM_TEXT_LSTM_UNITS: '2',
  PDM_DENSE_UNITS: '2',
  PDM_VOCAB_SIZE: '20',
});
const redis = createRedis(config);
after(async () => {
  await dropTestResources(config);
  await withTimeout('redis quit', redis.quit());
});

test('served scores: calibrated when the model carries a calibration, raw for a model without one', async () => {
  const calibration = { method: 'platt' as const, a: 0.5, b: -1.5 };
  const registry = new ModelRegistry(redis, config.redis.prefix);
  for (const cal of [undefined, calibration]) {
    const meta = await registerKnownModel(redis, config, {
      promote: false,
      ...(cal ? { calibration: cal } : {}),
    });
    const loaded = await registry.load(meta.version);
    assert.deepEqual(loaded.meta.calibration, cal, 'the calibration survives the registry round trip');
    const batcher = new ScoreBatcher(() => loaded, 8, 1);
    try {
      for (const x of [-0.5, 0.2, 0.6, 1.5]) {
        const readings = [0, 1, 2].map((i) => ({ ts: i * 3_600_000, values: { v: x } }));
        const features = featurize(readings, [], { ...loaded.meta, tokenizer: loaded.tokenizer });
        const { score } = await batcher.score({ features, modelVersion: meta.version });
        assert.ok(Math.abs(score - applyCalibration(cal, knownScore(x))) < 1e-4, `x=${x}: ${score}`);
      }
    } finally {
      disposeScoringModel(loaded.model);
    }
  }
});
