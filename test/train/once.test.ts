import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { createLogger } from '../../src/log';
import { createRedis } from '../../src/redis/client';
import { ModelRegistry } from '../../src/registry';
import { trainOnce, TrainingError } from '../../src/train';
import { fleetSnapshot, testConfig, withTimeout } from '../helpers';

const config = testConfig({ PDM_WINDOW: '6', PDM_TEXT_MAX_LEN: '12', PDM_LSTM_UNITS: '4', PDM_TEXT_LSTM_UNITS: '4', PDM_DENSE_UNITS: '4', PDM_VOCAB_SIZE: '200', PDM_TRAIN_EPOCHS: '2', PDM_TRAIN_MAX_WINDOWS: '800', PDM_TRAIN_MIN_POSITIVES: '5' });
const redis = createRedis(config);
after(async () => {
  const keys = await redis.keys(`${config.redis.prefix}*`);
  if (keys.length) await redis.del(...keys);
  await withTimeout('redis quit', redis.quit());
});

test('train --once: registers, evaluates on a later holdout, promotes the first model, gates the next', async () => {
  const snapshot = fleetSnapshot({ machines: 12, days: 30, seed: 5, mtbfMs: 6 * 86_400_000 });
  const logger = createLogger('warn');
  const first = await trainOnce(config, logger, { snapshot });
  assert.equal(first.promoted, true);
  assert.equal(first.reason, 'no model was serving');
  for (const k of ['roc_auc', 'pr_auc', 'precision', 'recall', 'f1']) assert.equal(typeof first.metrics[k], 'number', k);
  assert.ok(first.threshold > 0 && first.threshold < 1);
  const { train, validation, holdout } = first.data.split;
  assert.ok(train!.positives > 0 && validation!.positives > 0 && holdout!.windows > 0);
  assert.ok(train!.windows <= 800);
  const registry = new ModelRegistry(redis, config.redis.prefix);
  assert.equal(await registry.currentVersion(), first.version);
  const second = await trainOnce(config, logger, { snapshot, promote: true });
  assert.equal(second.comparedWith?.version, first.version, 'compared on the same holdout with the serving model');
  assert.equal(await registry.currentVersion(), second.promoted ? second.version : first.version);
});

test('too few positives: a clear TrainingError, the current model untouched', async () => {
  const registry = new ModelRegistry(redis, config.redis.prefix);
  const before = await registry.currentVersion();
  const snapshot = fleetSnapshot({ machines: 12, days: 30, seed: 5, mtbfMs: 6 * 86_400_000 });
  const none = { ...snapshot, failures: [] };
  await assert.rejects(trainOnce(config, createLogger('warn'), { snapshot: none }), (e: unknown) => e instanceof TrainingError && e.code === 'too_few_positives' && /PDM_TRAIN_MIN_POSITIVES/.test(e.message));
  assert.equal(await registry.currentVersion(), before);
});
