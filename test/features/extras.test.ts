import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config';
import {
  channelCount,
  channelNames,
  fillExtraChannels,
  formatExtraFeatures,
  parseExtraFeatures,
} from '../../src/features';

test('PDM_EXTRA_FEATURES: any order and case, canonical order out; delta:K sets the lag; none/empty is off', () => {
  assert.deepEqual(parseExtraFeatures('log-age, AGE,delta'), {
    channels: ['delta', 'age', 'log-age'],
    deltaLag: 1,
  });
  assert.deepEqual(parseExtraFeatures('delta:6'), { channels: ['delta'], deltaLag: 6 });
  assert.deepEqual(parseExtraFeatures('none'), { channels: [], deltaLag: 1 });
  assert.deepEqual(parseExtraFeatures(' '), { channels: [], deltaLag: 1 });
  assert.equal(formatExtraFeatures(parseExtraFeatures('age,delta:3') as never), 'delta:3,age');
  for (const bad of ['speed', 'delta:0', 'delta:x', 'age:2', 'none,age'])
    assert.ok('error' in parseExtraFeatures(bad), bad);
});

test('a bad PDM_EXTRA_FEATURES stops the configuration with a message naming the variable', () => {
  assert.throws(() => loadConfig({ PDM_EXTRA_FEATURES: 'age,mileage' }), /PDM_EXTRA_FEATURES.*mileage/);
  assert.throws(
    () => loadConfig({ PDM_EXTRA_FEATURES: 'delta:24', PDM_WINDOW: '24' }),
    /PDM_EXTRA_FEATURES delta lag 24 must be below PDM_WINDOW/,
  );
  assert.throws(
    () => loadConfig({ PDM_EXTRA_FEATURES: 'log-age', PDM_LOG_LOOKBACK: '0ms' }),
    /PDM_EXTRA_FEATURES=log-age needs PDM_LOG_LOOKBACK/,
  );
  assert.deepEqual(loadConfig({}).training.extraFeatures.channels, []);
  assert.deepEqual(loadConfig({ PDM_EXTRA_FEATURES: 'age' }).training.extraFeatures.channels, ['age']);
});

test('extra channels: deltas of scaled values inside the window, capped ages repeated on every row', () => {
  const extras = {
    channels: ['delta', 'age', 'log-age'] as const,
    deltaLag: 1,
    ageCapMs: 100,
    logAgeCapMs: 10,
  };
  assert.equal(channelCount(2, extras), 6);
  assert.deepEqual(channelNames(['a', 'b'], extras), ['a', 'b', 'Δa', 'Δb', 'age', 'log-age']);
  assert.equal(channelCount(2, undefined), 2);
  // 3 rows, the first one padding (offset 1); scaled sensors already in columns 0 and 1.
  const numeric = new Float32Array([0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0]);
  fillExtraChannels(numeric, { window: 3, offset: 1, sensors: 2, endTs: 1_000 }, extras, {
    firstTs: 975,
    lastLogTs: 996,
  });
  assert.deepEqual(
    [...numeric],
    [0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0.25, 0.4, 4, 0, 3, -2, 0.25, 0.4].map((v) => Math.fround(v)),
  );
  // Past the caps, and with no log known, both read 1.
  const old = new Float32Array(6);
  fillExtraChannels(old, { window: 1, offset: 0, sensors: 2, endTs: 1_000 }, extras, {
    firstTs: 0,
    lastLogTs: undefined,
  });
  assert.deepEqual([...old], [0, 0, 0, 0, 1, 1]);
});
