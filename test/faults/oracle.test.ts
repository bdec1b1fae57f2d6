import assert from 'node:assert/strict';
import { test } from 'node:test';
import { alertId } from '../../src/alerts';
import { knownScore } from '../known-model';
import {
  assertSeparated,
  checkAlerts,
  expectedAlerts,
  generateReadings,
  PALETTE,
  PALETTE_SCORES,
  SAFE_THRESHOLDS,
  valueForScore,
} from './oracle';
import type { ObservedAlert } from './oracle';

// The oracle is checked on its own (no I/O, seconds: it runs first in `npm run test:faults`, not in `npm test`): a wrong oracle would make every fault test meaningless.
const spec = { machines: 20, steps: 50, t0: Date.parse('2025-01-01T00:00:00Z'), stepMs: 3_600_000, seed: 1 };
const policy = { hysteresis: 0.1, cooldownMs: 3 * 3_600_000, raiseK: 2, windowN: 3, clearJ: 1 };

test('palette values invert the known score, and every safe threshold keeps them off the decision boundaries', () => {
  PALETTE_SCORES.forEach((s, i) => assert.ok(Math.abs(knownScore(PALETTE[i]!) - s) < 1e-9));
  assert.throws(() => valueForScore(0.95), RangeError);
  const readings = generateReadings(spec);
  assert.doesNotThrow(() => assertSeparated(readings, SAFE_THRESHOLDS, policy.hysteresis));
  assert.throws(() => assertSeparated(readings, [0.47], policy.hysteresis), /decision boundary/);
});

test('the generator: unique (machine, ts), in event-time order per machine, deterministic by seed', () => {
  const readings = generateReadings(spec);
  assert.equal(readings.length, spec.machines * spec.steps);
  assert.equal(new Set(readings.map((r) => `${r.machineId}|${r.ts}`)).size, readings.length);
  assert.deepEqual(generateReadings(spec), readings);
  assert.notDeepEqual(generateReadings({ ...spec, seed: 2 }), readings);
});

test('expected alerts alternate raised/cleared per machine and are keyed by the deterministic alertId', () => {
  const readings = generateReadings(spec);
  const expected = expectedAlerts(readings, 4, policy, () => ({ version: 'v1', threshold: 0.52 }));
  assert.ok(expected.size > 20, `a useful number of alerts (${expected.size})`);
  const byMachine = new Map<string, string[]>();
  for (const e of [...expected.values()].sort((a, b) => a.ts - b.ts)) {
    byMachine.set(e.machineId, [...(byMachine.get(e.machineId) ?? []), e.state]);
    assert.equal(e.alertId, alertId(e.machineId, e.ts, 'v1', e.state));
  }
  for (const states of byMachine.values())
    states.forEach((s, i) => assert.equal(s, i % 2 === 0 ? 'raised' : 'cleared'));
  // Another threshold gives another set: the hot-swap test relies on thresholds mattering.
  const other = expectedAlerts(readings, 4, policy, () => ({ version: 'v1', threshold: 0.82 }));
  assert.notEqual(other.size, expected.size);
});

test('the checker counts missing, extra and duplicated alerts', () => {
  const expected = expectedAlerts(generateReadings(spec), 4, policy, () => ({
    version: 'v1',
    threshold: 0.52,
  }));
  const observed: ObservedAlert[] = [...expected.values()].map((e) => ({
    alertId: e.alertId,
    machineId: e.machineId,
    ts: new Date(e.ts).toISOString(),
    state: e.state,
    score: 0.9,
    threshold: 0.52,
    modelVersion: 'v1',
  }));
  assert.deepEqual(
    (({ missing, extra, duplicates }) => ({ missing, extra, duplicates }))(checkAlerts(expected, observed)),
    { missing: 0, extra: 0, duplicates: 0 },
  );
  const dropped = observed.slice(3);
  const forged = {
    ...observed[0]!,
    alertId: alertId(observed[0]!.machineId, 1, 'v1', 'raised'),
    ts: new Date(1).toISOString(),
  };
  const result = checkAlerts(expected, [...dropped, observed[5]!, observed[5]!, forged]);
  assert.equal(result.missing, 3);
  assert.equal(result.extra, 1);
  assert.equal(result.duplicates, 2);
  assert.equal(result.distinct, dropped.length + 1);
});
