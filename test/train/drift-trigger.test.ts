import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { readDrift, saveDrift } from '../../src/evaluate';
import type { StoredDrift } from '../../src/evaluate';
import { createRedis } from '../../src/redis/client';
import { DriftTrigger, driftReason } from '../../src/train/drift-trigger';
import { dropTestResources, testConfig, withTimeout } from '../helpers';

const opts = { psi: 0.25, minValues: 1000, maxAgeMs: 300_000 };
const NOW = 1_800_000_000_000;

function drift(version: string, sensors: [string, number, number][], writtenAt = NOW): StoredDrift {
  return {
    version,
    sensors: sensors.map(([sensor, psi, n]) => ({ sensor, psi, meanShift: 0, n })),
    oovRatio: null,
    tokens: 0,
    writtenAt,
  };
}

test('drift calls for a round only for the serving version, with enough values, when fresh; it names the worst sensor', () => {
  const d = drift('v4', [
    ['volt', 0.3, 5000],
    ['rotate', 0.9, 5000],
    ['pressure', 4, 999], // the largest PSI, but over too few values to mean anything
  ]);
  assert.equal(driftReason(d, 'v4', opts, NOW), 'drift: rotate PSI 0.900 ≥ 0.25 over 5000 values (v4)');
  assert.equal(driftReason(d, 'v5', opts, NOW), undefined, "another version's reference");
  assert.equal(driftReason(d, undefined, opts, NOW), undefined, 'nothing serving');
  assert.equal(driftReason(d, 'v4', opts, NOW + 300_001), undefined, 'stale figures');
  assert.equal(
    driftReason(drift('v4', [['volt', 0.249, 5000]]), 'v4', opts, NOW),
    undefined,
    'below the PSI',
  );
  assert.equal(driftReason(undefined, 'v4', opts, NOW), undefined, 'no evaluator');
});

const config = testConfig();
const redis = createRedis(config);
after(async () => {
  await withTimeout('redis quit', redis.quit());
  await dropTestResources(config);
});

test('the trigger fires once per serving version, across trainer restarts, from the figures the evaluator stored', async () => {
  const { prefix } = config.redis;
  await saveDrift(redis, prefix, drift('v4', [['volt', 0.5, 2000]]), Date.now());
  assert.equal((await readDrift(redis, prefix))?.sensors[0]?.psi, 0.5);

  const trigger = new DriftTrigger(redis, prefix, opts);
  assert.match((await trigger.check('v4')) ?? '', /^drift: volt PSI 0\.500/);
  assert.equal(await trigger.check('v4'), undefined, 'already triggered for v4');
  // A restarted trainer (a new trigger over the same Redis) does not retrain for the same drift again.
  assert.equal(await new DriftTrigger(redis, prefix, opts).check('v4'), undefined);

  // The round promoted v5; the evaluator's reference follows it. Drift of v5 triggers once more.
  assert.equal(await trigger.check('v5'), undefined, 'the stored figures are still about v4');
  await saveDrift(redis, prefix, drift('v5', [['volt', 0.3, 2000]]), Date.now());
  assert.match((await trigger.check('v5')) ?? '', /^drift: volt PSI 0\.300 .* \(v5\)$/);

  // Unreadable figures are no figures: the trainer must not fail for them.
  await redis.set(`${prefix}eval:drift`, '{not json');
  assert.equal(await readDrift(redis, prefix), undefined);
});
