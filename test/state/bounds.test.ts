import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addLog, addReading, newMachineState } from '../../src/state';

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
