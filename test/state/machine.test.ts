import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addLog, addReading, MachineStore, newMachineState, wordsForWindow } from '../../src/state';

const H = 3_600_000;
const limits = { window: 3, allowedLatenessMs: 2 * H, logLookbackMs: 24 * H, maxLogTokens: 100 };
const r = (ts: number, v = 1) => ({ machineId: 'm', ts, values: { volt: v } });

test('the window keeps the newest T readings in event-time order and asks for a score once full', () => {
  const s = newMachineState('m');
  assert.equal(addReading(s, r(1 * H), limits), 'stored');
  assert.equal(addReading(s, r(2 * H), limits), 'stored');
  assert.equal(addReading(s, r(3 * H), limits), 'score');
  assert.equal(addReading(s, r(4 * H), limits), 'score');
  assert.deepEqual(
    s.readings.map((x) => x.ts / H),
    [2, 3, 4],
  );
});

test('duplicate ts is ignored; late within lateness is inserted in order without re-scoring; later is late', () => {
  const s = newMachineState('m');
  for (const h of [1, 2, 4, 5]) addReading(s, r(h * H), limits);
  assert.equal(addReading(s, r(5 * H, 99), limits), 'duplicate');
  assert.equal(s.readings.at(-1)!.values.volt, 1);
  assert.equal(addReading(s, r(3.5 * H), limits), 'stored');
  assert.deepEqual(
    s.readings.map((x) => x.ts / H),
    [3.5, 4, 5],
  );
  assert.equal(addReading(s, r(2.5 * H), limits), 'late');
});

test('log words in (t - lookback, t], oldest first; bounded by the token budget', () => {
  const s = newMachineState('m');
  addReading(s, r(30 * H), limits);
  addLog(s, 5 * H, ['too', 'old'], limits);
  addLog(s, 29 * H, ['second'], limits);
  addLog(s, 10 * H, ['first'], limits);
  addLog(s, 31 * H, ['future'], limits);
  assert.deepEqual(wordsForWindow(s, 30 * H, 24 * H), ['first', 'second']);
  const tight = { ...limits, maxLogTokens: 2 };
  const t = newMachineState('m');
  for (let i = 0; i < 5; i++) addLog(t, i, [`w${i}`], tight);
  assert.deepEqual(
    t.logs.map((l) => l.words[0]),
    ['w3', 'w4'],
  );
});

test('the store evicts idle machines and bounds the count, but never drops un-checkpointed state', () => {
  let now = 0;
  const evicted: string[] = [];
  const store = new MachineStore(
    2,
    1000,
    () => now,
    (id) => evicted.push(id),
  );
  store.touch('a');
  store.touch('b');
  store.markDirty('a');
  now = 5000;
  store.touch('c'); // over the bound on insert: b, the least recent clean one, goes at once
  assert.deepEqual(evicted, ['b']);
  assert.deepEqual(store.evict(), [], 'a is idle but dirty, c is fresh');
  assert.ok(store.has('a'));
  store.clean(['a']);
  now = 5500;
  assert.deepEqual(store.evict(), ['a']);
  assert.equal(store.size, 1);
});
