import assert from 'node:assert/strict';
import { test } from 'node:test';
import { alertId, applyScore } from '../../src/alerts';

const policy = { threshold: 0.5, hysteresis: 0.1, cooldownMs: 10_000 };

test('raise at the threshold, clear only below threshold - hysteresis, one raise per cooldown', () => {
  const a = { state: 'clear' as const, lastRaisedTs: undefined } as { state: 'clear' | 'raised'; lastRaisedTs: number | undefined };
  const seq = [
    [0.3, 1000],
    [0.5, 2000],
    [0.45, 3000],
    [0.39, 4000],
    [0.9, 5000],
    [0.9, 12_500],
    [0.1, 13_000],
    [0.95, 14_000],
  ] as const;
  const out = seq.map(([score, ts]) => applyScore(a, score, ts, policy));
  assert.deepEqual(out, [undefined, 'raised', undefined, 'cleared', undefined, 'raised', 'cleared', undefined]);
});

test('alertId is deterministic in machine, reading, model version and transition', () => {
  assert.equal(alertId('m-1', 5, 'v1', 'raised'), alertId('m-1', 5, 'v1', 'raised'));
  assert.notEqual(alertId('m-1', 5, 'v1', 'raised'), alertId('m-1', 5, 'v2', 'raised'));
  assert.notEqual(alertId('m-1', 5, 'v1', 'raised'), alertId('m-1', 6, 'v1', 'raised'));
  assert.match(alertId('m', 1, 'v1', 'cleared'), /^[0-9a-f]{32}$/);
});
