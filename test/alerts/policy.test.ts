import assert from 'node:assert/strict';
import { test } from 'node:test';
import { alertId, applyScore, clearLevel, isFlap } from '../../src/alerts';
import type { AlertPolicy, Transition } from '../../src/alerts';
import { newAlertState } from '../../src/state';
import type { AlertState } from '../../src/state';

const single: AlertPolicy = {
  threshold: 0.5,
  hysteresis: 0.1,
  cooldownMs: 10_000,
  raiseK: 1,
  windowN: 1,
  clearJ: 1,
};
const twoOfThree: AlertPolicy = { ...single, raiseK: 2, windowN: 3, clearJ: 1 };

/** Feeds (score, ts) pairs through the rule and returns the transitions. */
function run(
  policy: AlertPolicy,
  seq: readonly (readonly [number, number])[],
  alert: AlertState = newAlertState(),
): Transition[] {
  return seq.map(([score, ts]) => applyScore(alert, score, ts, policy));
}

test('k = n = j = 1 is the plain rule: raise at the threshold, clear only below threshold - hysteresis, one raise per cooldown', () => {
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
  assert.deepEqual(run(single, seq), [
    undefined,
    'raised',
    undefined,
    'cleared',
    undefined,
    'raised',
    'cleared',
    undefined,
  ]);
});

test('2-of-3: a single spike does not raise; two high scores among the last three do', () => {
  assert.deepEqual(
    run(twoOfThree, [
      [0.2, 1],
      [0.9, 2],
      [0.2, 3],
      [0.2, 4],
      [0.2, 5],
    ]),
    [undefined, undefined, undefined, undefined, undefined],
  );
  assert.deepEqual(
    run(twoOfThree, [
      [0.9, 1],
      [0.2, 2],
      [0.6, 3],
    ]),
    [undefined, undefined, 'raised'],
  );
  // Fewer than k scores seen never raises, however high.
  assert.deepEqual(
    run({ ...single, raiseK: 3, windowN: 3 }, [
      [0.99, 1],
      [0.99, 2],
    ]),
    [undefined, undefined],
  );
});

test('clear needs fewer than j of the last n above threshold - hysteresis: one low score does not clear', () => {
  const seq = [
    [0.9, 1],
    [0.9, 2],
    [0.2, 3],
    [0.45, 4],
    [0.2, 5],
    [0.2, 6],
    [0.2, 7],
  ] as const;
  // Raised at 2; the 0.45 at ts 4 stays in the window of three (above 0.4) until ts 7.
  assert.deepEqual(run(twoOfThree, seq), [
    undefined,
    'raised',
    undefined,
    undefined,
    undefined,
    undefined,
    'cleared',
  ]);
  // j = 2 clears as soon as fewer than two of the last three stay above 0.4.
  assert.deepEqual(run({ ...twoOfThree, clearJ: 2 }, seq), [
    undefined,
    'raised',
    undefined,
    undefined,
    'cleared',
    undefined,
    undefined,
  ]);
});

test('cooldown: a second raise within the cooldown of the first waits, on event time', () => {
  const policy = { ...twoOfThree, cooldownMs: 100 };
  const seq = [
    [0.9, 10],
    [0.9, 20],
    [0.1, 30],
    [0.1, 40],
    [0.1, 50],
    [0.9, 60],
    [0.9, 70],
    [0.9, 110],
    [0.9, 120],
  ] as const;
  assert.deepEqual(run(policy, seq), [
    undefined,
    'raised',
    undefined,
    undefined,
    'cleared',
    undefined,
    undefined,
    undefined,
    'raised',
  ]);
});

test('a raised alert restored without its recent scores (an older checkpoint) is not cleared by the first low score', () => {
  const restored: AlertState = { state: 'raised', lastRaisedTs: 0, lastClearedTs: undefined, recent: [] };
  assert.deepEqual(
    run(
      twoOfThree,
      [
        [0.1, 1],
        [0.1, 2],
        [0.1, 3],
      ],
      restored,
    ),
    [undefined, undefined, 'cleared'],
  );
});

test('the window keeps only the last n scores', () => {
  const alert = newAlertState();
  run(
    twoOfThree,
    [
      [0.1, 1],
      [0.2, 2],
      [0.3, 3],
      [0.35, 4],
    ],
    alert,
  );
  assert.deepEqual(alert.recent, [0.2, 0.3, 0.35]);
});

test('flaps: a raise within the flap window of the previous clear counts, a later one does not', () => {
  const alert = newAlertState();
  const flapWindowMs = 50;
  let flaps = 0;
  const seq = [
    [0.9, 10],
    [0.1, 20],
    [0.9, 30],
    [0.1, 40],
    [0.9, 200],
    [0.1, 210],
    [0.9, 240],
  ] as const;
  for (const [score, ts] of seq) {
    const clearedBefore = alert.lastClearedTs;
    if (
      applyScore(alert, score, ts, { ...single, cooldownMs: 5 }) === 'raised' &&
      isFlap(clearedBefore, ts, flapWindowMs)
    )
      flaps++;
  }
  // Raises at 10 (first, no clear before), 30 (10 after a clear: flap), 200 (160 after: not), 240 (30 after: flap).
  assert.equal(flaps, 2);
  assert.equal(isFlap(undefined, 5, 50), false);
});

test('alertId is deterministic in machine, reading, model version and transition', () => {
  assert.equal(alertId('m-1', 5, 'v1', 'raised'), alertId('m-1', 5, 'v1', 'raised'));
  assert.notEqual(alertId('m-1', 5, 'v1', 'raised'), alertId('m-1', 5, 'v2', 'raised'));
  assert.notEqual(alertId('m-1', 5, 'v1', 'raised'), alertId('m-1', 6, 'v1', 'raised'));
  assert.match(alertId('m', 1, 'v1', 'cleared'), /^[0-9a-f]{32}$/);
});

test('a threshold below the hysteresis still clears: the hysteresis is capped at half the threshold', () => {
  const low: AlertPolicy = { ...single, threshold: 0.06, hysteresis: 0.1 };
  assert.equal(clearLevel(low), 0.03);
  assert.equal(clearLevel(single), 0.4);
  assert.deepEqual(
    run(low, [
      [0.07, 1000],
      [0.04, 2000],
      [0.02, 3000],
    ]),
    ['raised', undefined, 'cleared'],
  );
});
