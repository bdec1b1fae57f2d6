import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { createLogger } from '../../src/log';
import { createRedis } from '../../src/redis/client';
import { ModelRegistry } from '../../src/registry';
import { trainOnce, TrainingError } from '../../src/train';
import { fleetSnapshot, testConfig, withTimeout } from '../helpers';

const config = testConfig({
  PDM_WINDOW: '6',
  PDM_TEXT_MAX_LEN: '12',
  PDM_LSTM_UNITS: '4',
  PDM_TEXT_LSTM_UNITS: '4',
  PDM_DENSE_UNITS: '4',
  PDM_VOCAB_SIZE: '200',
  PDM_TRAIN_EPOCHS: '2',
  PDM_TRAIN_MAX_WINDOWS: '800',
  PDM_TRAIN_MIN_POSITIVES: '5',
});
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
  for (const k of ['roc_auc', 'pr_auc', 'precision', 'recall', 'f1'])
    assert.equal(typeof first.metrics[k], 'number', k);
  assert.ok(first.threshold > 0 && first.threshold < 1);
  // The default policy, its figures at the threshold on validation and on the later holdout, calibration.
  assert.equal(first.thresholdPolicy, 'cost:5/1');
  assert.equal(first.operatingPoint.validation.threshold, first.threshold);
  assert.equal(first.operatingPoint.holdout.threshold, first.threshold);
  assert.equal(first.metrics.recall, first.operatingPoint.holdout.recall);
  // A tiny two-epoch model can rank validation no better than chance; then no calibration is fitted and
  // the raw scores are served (both cases must hold together).
  const { fitted, brierHoldout } = first.calibration;
  if (fitted) assert.ok(fitted.method === 'platt' && fitted.a > 0);
  else assert.equal(brierHoldout.served, brierHoldout.raw);
  assert.equal(typeof first.metrics.brier, 'number');
  assert.equal(
    first.calibration.reliabilityHoldout.reduce((n, b) => n + b.windows, 0),
    first.data.split.holdout!.windows,
  );
  const { train, validation, holdout } = first.data.split;
  assert.ok(train!.positives > 0 && validation!.positives > 0 && holdout!.windows > 0);
  assert.ok(train!.windows <= 800);
  const registry = new ModelRegistry(redis, config.redis.prefix);
  assert.equal(await registry.currentVersion(), first.version);
  const meta = await registry.meta(first.version);
  assert.equal(meta?.thresholdPolicy, 'cost:5/1');
  assert.deepEqual(meta?.calibration ?? null, first.calibration.fitted);
  assert.deepEqual(meta?.operatingPoint?.holdout, first.operatingPoint.holdout);
  const second = await trainOnce(config, logger, { snapshot, promote: true });
  assert.equal(
    second.comparedWith?.version,
    first.version,
    'compared on the same holdout with the serving model',
  );
  assert.equal(await registry.currentVersion(), second.promoted ? second.version : first.version);
});

test('--search N: tries up to N configurations, reports each, keeps the best by validation PR-AUC', async () => {
  const snapshot = fleetSnapshot({ machines: 12, days: 30, seed: 5, mtbfMs: 6 * 86_400_000 });
  const searchConfig = testConfig({
    PDM_REDIS_PREFIX: config.redis.prefix,
    PDM_WINDOW: '6',
    PDM_TEXT_MAX_LEN: '12',
    PDM_LSTM_UNITS: '4',
    PDM_TEXT_LSTM_UNITS: '4',
    PDM_DENSE_UNITS: '4',
    PDM_VOCAB_SIZE: '200',
    PDM_TRAIN_EPOCHS: '1',
    PDM_TRAIN_MAX_WINDOWS: '400',
    PDM_TRAIN_MIN_POSITIVES: '5',
    PDM_THRESHOLD_POLICY: 'cost:10/1',
  });
  const summary = await trainOnce(searchConfig, createLogger('warn'), {
    snapshot,
    search: 2,
    promote: false,
  });
  const trials = summary.search ?? [];
  assert.equal(trials.length, 2);
  assert.deepEqual(
    trials[0]!.config,
    { lstmLayers: 1, lstmUnits: 4, textLstmUnits: 4, denseUnits: 4, epochs: 1 },
    'the configured model is tried first',
  );
  const chosen = trials.filter((t) => t.chosen);
  assert.equal(chosen.length, 1);
  assert.equal(chosen[0]!.valPrAuc, Math.max(...trials.map((t) => t.valPrAuc ?? -1)));
  assert.equal(summary.metrics.val_pr_auc, chosen[0]!.valPrAuc);
  assert.equal(summary.thresholdPolicy, 'cost:10/1');
});

test('too few positives: a clear TrainingError, the current model untouched', async () => {
  const registry = new ModelRegistry(redis, config.redis.prefix);
  const before = await registry.currentVersion();
  const snapshot = fleetSnapshot({ machines: 12, days: 30, seed: 5, mtbfMs: 6 * 86_400_000 });
  const none = { ...snapshot, failures: [] };
  await assert.rejects(
    trainOnce(config, createLogger('warn'), { snapshot: none }),
    (e: unknown) =>
      e instanceof TrainingError &&
      e.code === 'too_few_positives' &&
      /PDM_TRAIN_MIN_POSITIVES/.test(e.message),
  );
  assert.equal(await registry.currentVersion(), before);
});
