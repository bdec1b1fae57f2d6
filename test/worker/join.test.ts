import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JoinGate } from '../../src/worker/join';

/** Offsets of the logs topic as the gate reads them; `refresh` makes the lag known, as the admin call would. */
function fakeOffsets(lagAfterRefresh: number | undefined) {
  let lag: number | undefined;
  let refreshes = 0;
  return {
    offsets: { lag: () => lag, maxEventTs: () => -Infinity },
    refresh: async () => {
      refreshes++;
      lag = lagAfterRefresh;
    },
    refreshes: () => refreshes,
  };
}

function payload() {
  let heartbeats = 0;
  return {
    payload: {
      isRunning: () => true,
      isStale: () => false,
      heartbeat: async () => void heartbeats++,
    },
    heartbeats: () => heartbeats,
  };
}

test('a first batch goes on as soon as the refresh shows its logs caught up (no wait loop)', async () => {
  const f = fakeOffsets(0);
  const p = payload();
  await new JoinGate(f.offsets, 'logs', f.refresh).awaitLogs(0, 1_000, p.payload);
  assert.equal(f.refreshes(), 1);
  // A heartbeat follows each 50 ms wait: none means the gate did not wait at all.
  assert.equal(p.heartbeats(), 0);
});

test('logs still behind after the refresh: the gate waits, heartbeating, until they catch up', async () => {
  const f = fakeOffsets(3);
  const p = payload();
  let caughtUp = false;
  const offsets = { lag: () => (caughtUp ? 0 : f.offsets.lag()), maxEventTs: () => -Infinity };
  const gate = new JoinGate(offsets, 'logs', f.refresh);
  const waiting = gate.awaitLogs(0, 1_000, p.payload);
  setTimeout(() => (caughtUp = true), 120);
  await waiting;
  assert.equal(f.refreshes(), 1, 'a known lag is not asked for again');
  assert.ok(p.heartbeats() >= 1);
});
