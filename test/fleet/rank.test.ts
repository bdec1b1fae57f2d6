import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fleetEntry, MAX_TOP, parseTop, rankFleet } from '../../src/fleet';
import type { FleetEntry } from '../../src/fleet';
import { newMachineState } from '../../src/state';

const entry = (
  machineId: string,
  score: number,
  scoredTs: string,
  alert: 'raised' | 'clear' = 'clear',
): FleetEntry => ({ machineId, score, scoredTs, modelVersion: 'v1', alert, lastAlert: null });

test('ranking: highest score first, ties put a raised alert first, then machine id; cut at top', () => {
  const ranked = rankFleet(
    [
      entry('m-3', 0.2, '2026-01-01T00:00:00Z'),
      entry('m-1', 0.9, '2026-01-01T00:00:00Z'),
      entry('m-4', 0.5, '2026-01-01T00:00:00Z'),
      entry('m-2', 0.5, '2026-01-01T00:00:00Z', 'raised'),
      entry('m-0', 0.5, '2026-01-01T00:00:00Z'),
    ],
    4,
  );
  assert.deepEqual(
    ranked.map((e) => e.machineId),
    ['m-1', 'm-2', 'm-0', 'm-4'],
  );
});

test('ranking merges sources: one entry per machine, the later score wins', () => {
  const ranked = rankFleet(
    [
      entry('m-1', 0.9, '2026-01-01T00:00:00Z'),
      entry('m-1', 0.1, '2026-01-01T01:00:00Z'),
      entry('m-2', 0.3, '2026-01-01T00:00:00Z'),
    ],
    10,
  );
  assert.deepEqual(
    ranked.map((e) => [e.machineId, e.score]),
    [
      ['m-2', 0.3],
      ['m-1', 0.1],
    ],
  );
});

test('a machine enters the view once scored, with its latest alert transition and the k-of-n vote', () => {
  const state = newMachineState('m-7');
  assert.equal(fleetEntry(state, 0.5), undefined);
  state.lastScore = { ts: Date.parse('2026-01-01T05:00:00Z'), score: 0.7, modelVersion: 'v2' };
  state.alert = {
    state: 'raised',
    lastRaisedTs: Date.parse('2026-01-01T04:00:00Z'),
    lastClearedTs: Date.parse('2026-01-01T01:00:00Z'),
    recent: [0.4, 0.6, 0.7],
  };
  assert.deepEqual(fleetEntry(state, 0.5), {
    machineId: 'm-7',
    score: 0.7,
    scoredTs: '2026-01-01T05:00:00.000Z',
    modelVersion: 'v2',
    alert: 'raised',
    lastAlert: { state: 'raised', ts: '2026-01-01T04:00:00.000Z' },
    recentAbove: 2,
  });
  state.alert = { ...state.alert, state: 'clear', lastClearedTs: Date.parse('2026-01-01T05:00:00Z') };
  assert.deepEqual(fleetEntry(state, undefined)?.lastAlert, {
    state: 'cleared',
    ts: '2026-01-01T05:00:00.000Z',
  });
});

test('?top= must be a positive integer within the bound', () => {
  assert.deepEqual(parseTop('5'), { top: 5 });
  assert.deepEqual(parseTop(String(MAX_TOP)), { top: MAX_TOP });
  for (const bad of [null, '', '0', '-3', '2.5', 'ten', '1e3', ' 5', '007'])
    assert.ok('error' in parseTop(bad), `refused: ${bad}`);
  assert.match((parseTop(String(MAX_TOP + 1)) as { error: string }).error, /at most 1000/);
});
