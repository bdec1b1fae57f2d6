import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config';
import { addReading, newMachineState } from '../../src/state';

/**
 * The event-time rule for a clock running ahead (issue: one reading 5 minutes in the future held back the
 * on-time readings after it). The rule: a reading within PDM_MAX_FUTURE_SKEW is accepted and scored, and it
 * becomes the machine's newest; the on-time readings behind it are inserted in order (never dead-lettered
 * as late, because the skew may not exceed the allowed lateness) and scoring resumes with the first reading
 * newer than it. A clock ahead by s therefore delays that machine's scores by at most s.
 */
test('a reading from the future delays scoring by at most the skew and never turns on-time readings late', () => {
  const config = loadConfig({ PDM_WINDOW: '3', PDM_MAX_FUTURE_SKEW: '5m', PDM_ALLOWED_LATENESS: '5m' });
  const limits = {
    window: config.model.window,
    allowedLatenessMs: config.allowedLatenessMs,
    logLookbackMs: config.logLookbackMs,
    maxLogTokens: config.maxLogTokens,
  };
  const minute = 60_000;
  const state = newMachineState('m1');
  const outcomes: string[] = [];
  const add = (minutes: number) =>
    outcomes.push(
      `${minutes}:${addReading(state, { machineId: 'm1', ts: minutes * minute, values: { v: minutes } }, limits)}`,
    );
  for (const m of [1, 2, 3]) add(m); // on time: the window fills, 3 is scored
  add(3 + 5); // the gateway's clock jumps 5 minutes ahead: accepted within the skew, scored
  for (const m of [4, 5, 6, 7]) add(m); // on-time readings behind it: stored in order, not scored, not late
  for (const m of [9, 10]) add(m); // past the future reading: scored again
  assert.deepEqual(outcomes, [
    '1:stored',
    '2:stored',
    '3:score',
    '8:score',
    '4:stored',
    '5:stored',
    '6:stored',
    '7:stored',
    '9:score',
    '10:score',
  ]);
  assert.deepEqual(
    state.readings.map((r) => r.ts / minute),
    [8, 9, 10],
  );
  assert.throws(
    () => loadConfig({ PDM_MAX_FUTURE_SKEW: '6m', PDM_ALLOWED_LATENESS: '5m' }),
    /PDM_MAX_FUTURE_SKEW/,
  );
});
