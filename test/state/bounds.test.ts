import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addLog, addReading, MachineStore, newMachineState } from '../../src/state';
import { encodeState } from '../../src/state/codec';

const limits = { window: 4, allowedLatenessMs: 3_600_000, logLookbackMs: 86_400_000, maxLogTokens: 2_000 };
const held = (state: ReturnType<typeof newMachineState>) =>
  state.logs.reduce((n, l) => n + Math.max(1, l.words.length), 0);

test('logs without a token count against the budget, also before the first reading', () => {
  const state = newMachineState('m');
  for (let i = 0; i < 100_000; i++) addLog(state, i, [], limits); // "!!! ??? ---" tokenises to nothing
  assert.equal(state.logs.length, 2_000);
  assert.equal(state.logs[0]?.ts, 98_000, 'the newest are kept');
});

test('one huge log keeps only its most recent words, within the budget', () => {
  const state = newMachineState('m');
  const words = Array.from({ length: 9_999 }, (_, i) => `w${i}`);
  assert.equal(addLog(state, 1, words, limits), 'stored');
  assert.equal(state.logs.length, 1);
  assert.equal(state.logs[0]?.words.length, 2_000);
  assert.equal(state.logs[0]?.words.at(-1), 'w9998');
  assert.equal(
    addLog(state, 1, words, limits),
    'duplicate',
    'a redelivery of the same log is still recognised',
  );
  addLog(state, 2, ['a', 'b'], limits);
  assert.ok(held(state) <= limits.maxLogTokens);
  addReading(state, { machineId: 'm', ts: 3, values: { v: 1 } }, limits);
  assert.ok(held(state) <= limits.maxLogTokens);
});

const byteLimits = { ...limits, maxLogBytes: 4_096 };
const logBytesHeld = (state: ReturnType<typeof newMachineState>) =>
  state.logs.reduce((n, l) => n + 16 + l.words.reduce((m, w) => m + w.length, 0), 0);

test('the per-machine byte bound holds on insert: many large words, and one word larger than the bound', () => {
  const state = newMachineState('m');
  // 100 logs of one 20,000-character word each: the token budget (2,000) alone would keep all of them.
  for (let i = 0; i < 100; i++) addLog(state, i, [`${i}`.padEnd(20_000, 'x')], byteLimits);
  assert.ok(logBytesHeld(state) <= byteLimits.maxLogBytes, `held ${logBytesHeld(state)} bytes`);
  assert.equal(state.logs.length, 1, 'the newest log only');
  assert.ok(state.logs[0]!.words[0]!.endsWith('x') && state.logs[0]!.ts === 99);
  // A redelivered copy of the same oversized log is still recognised as a duplicate.
  assert.equal(addLog(state, 99, ['99'.padEnd(20_000, 'x')], byteLimits), 'duplicate');
  // Ordinary logs fill the budget by bytes, oldest out first.
  for (let i = 100; i < 2_000; i++) addLog(state, i, ['pump', 'pressure', 'drop'], byteLimits);
  assert.ok(logBytesHeld(state) <= byteLimits.maxLogBytes);
  assert.equal(state.logs.at(-1)?.ts, 1_999);
});

test('state and checkpoint size stay bounded for every input of issue 12 finding 7, with the store bound on insert', () => {
  const maxMachines = 50;
  const store = new MachineStore(maxMachines, 3_600_000);
  let largest = 0;
  let maxHeld = 0;
  for (let m = 0; m < 300; m++) {
    const id = `m-${m}`;
    const state = store.touch(id);
    store.markDirty(id);
    const words =
      m % 3 === 0
        ? []
        : m % 3 === 1
          ? Array.from({ length: 9_999 }, (_, i) => `w${i}`)
          : ['y'.repeat(20_000)];
    for (let i = 0; i < 12; i++) addLog(state, i, words, byteLimits);
    for (let i = 0; i < 10; i++)
      addReading(state, { machineId: id, ts: 1_000 + i, values: { v: i, w: -i } }, byteLimits);
    largest = Math.max(largest, encodeState(state).length);
    store.clean([id]);
    maxHeld = Math.max(maxHeld, store.size);
  }
  assert.equal(maxHeld, maxMachines, 'never more machines than the bound once the batch checkpointed');
  // Header JSON (log words quoted, plus the rest) over the byte budget of the logs, and the window of 4.
  assert.ok(largest < byteLimits.maxLogBytes * 1.5 + 1_024, `largest checkpoint ${largest} bytes`);
});

test('the bound on insert never evicts a dirty or pinned machine; the batch finishes first', () => {
  let now = 0;
  const evicted: string[] = [];
  const store = new MachineStore(
    2,
    3_600_000,
    () => now,
    (id) => evicted.push(id),
  );
  for (const id of ['a', 'b']) {
    store.touch(id);
    store.markDirty(id);
  }
  store.touch('c'); // every other machine is dirty: the store grows past the bound
  store.markDirty('c');
  assert.equal(store.size, 3);
  assert.deepEqual(evicted, []);
  store.clean(['a', 'b', 'c']); // the batch checkpointed: back to the bound, least recent first
  assert.deepEqual(evicted, ['a']);
  assert.equal(store.size, 2);
  // A machine a batch looked up (pinned) survives inserts until it is applied...
  store.pin('b');
  store.touch('d', newMachineState('d')); // restored from a checkpoint: pinned as well
  store.touch('e');
  assert.ok(store.has('b') && store.has('d') && store.has('e'));
  assert.deepEqual(evicted, ['a', 'c']);
  // ...or until the pin lapses (a batch whose records were all invalid applies nothing).
  now = 61_000;
  store.touch('f');
  assert.deepEqual(evicted.slice(2), ['b', 'd']);
  assert.equal(store.size, 2);
});
