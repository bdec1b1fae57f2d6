import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Ledger } from '../../src/evaluate';
import type { DecisionGate, LedgerEvent, Position } from '../../src/evaluate';

const H = 3_600_000;
const opts = { horizonMs: 6 * H, graceMs: H, retentionMs: 48 * H };
/** The worker processed everything and this evaluator has read every readings partition to its end. */
const open: DecisionGate = { processed: () => true, unreadPartitions: [] };
const kinds = (events: readonly LedgerEvent[]) =>
  events
    .filter((e) => e.kind !== 'exposure')
    .map((e) =>
      'reason' in e
        ? `${e.kind}:${e.topic}:${e.reason}`
        : 'leadMs' in e
          ? `${e.kind}:${e.version}:${e.leadMs / H}h`
          : `${e.kind}:${e.version}`,
    );

/** Hourly readings of machine m from hour `from` to `to` inclusive, at offsets equal to the hour. */
function readings(ledger: Ledger, m: string, from: number, to: number): LedgerEvent[] {
  const out: LedgerEvent[] = [];
  for (let h = from; h <= to; h++) out.push(...ledger.reading(m, h * H, { partition: 0, offset: h }, 'v2'));
  return out;
}

test('a raise within the horizon before a failure is a true alarm and a detection with its lead time; the horizon is (a, a + H]', () => {
  const ledger = new Ledger(opts);
  readings(ledger, 'm', 0, 10);
  assert.deepEqual(kinds(ledger.alert({ alertId: 'a1', machineId: 'm', ts: 4 * H, modelVersion: 'v1' })), []);
  assert.deepEqual(kinds(ledger.alert({ alertId: 'a2', machineId: 'm', ts: 7 * H, modelVersion: 'v1' })), []);
  assert.deepEqual(
    kinds(ledger.alert({ alertId: 'a3', machineId: 'm', ts: 10 * H, modelVersion: 'v1' })),
    [],
  );
  // f = 10 h: a1 (4 h, f = a + H exactly) and a2 count, a3 (raised at f itself) does not.
  assert.deepEqual(kinds(ledger.failure('m', 10 * H)), ['true_alarm:v1', 'true_alarm:v1']);
  assert.deepEqual(kinds(ledger.decide(open, 'v2')), [], 'the failure waits for a reading past f + grace');
  readings(ledger, 'm', 11, 11);
  assert.deepEqual(kinds(ledger.decide(open, 'v2')), ['detected:v1:6h'], 'lead time from the first raise');
  readings(ledger, 'm', 12, 17);
  assert.deepEqual(
    kinds(ledger.decide(open, 'v2')),
    ['false_alarm:v1'],
    'a3: 10 h + 6 h + 1 h grace passed with no failure',
  );
  assert.deepEqual(kinds(ledger.decide(open, 'v2')), [], 'decided once');
});

test('a failure with no raise before it is missed, charged to the serving version; decisions wait for the gate', () => {
  const ledger = new Ledger(opts);
  readings(ledger, 'm', 0, 3);
  ledger.failure('m', 3 * H);
  readings(ledger, 'm', 4, 5);
  let workerAt = 3; // the worker has committed offsets < 3 only
  const gate: DecisionGate = { processed: (due: Position) => workerAt > due.offset, unreadPartitions: [] };
  assert.deepEqual(kinds(ledger.decide(gate, 'v2')), []);
  workerAt = 5; // the reading at 4 h passed f + grace: offset 4 < 5
  assert.deepEqual(kinds(ledger.decide(gate, 'v2')), ['missed:v2']);
});

test('duplicates, unknown machines and records older than the retention are counted, never double-counted', () => {
  const ledger = new Ledger(opts);
  readings(ledger, 'm', 0, 100);
  assert.deepEqual(kinds(ledger.failure('m', 95 * H)), []);
  assert.deepEqual(kinds(ledger.failure('m', 95 * H)), ['ignored:failures:duplicate']);
  assert.deepEqual(kinds(ledger.alert({ alertId: 'a', machineId: 'm', ts: 90 * H, modelVersion: 'v1' })), [
    'true_alarm:v1',
  ]);
  assert.deepEqual(kinds(ledger.alert({ alertId: 'a', machineId: 'm', ts: 90 * H, modelVersion: 'v1' })), [
    'ignored:alerts:duplicate',
  ]);
  assert.deepEqual(
    kinds(ledger.failure('m', 10 * H)),
    ['ignored:failures:too_old'],
    '100 h − 48 h retention',
  );
  assert.deepEqual(kinds(ledger.alert({ alertId: 'b', machineId: 'm', ts: 10 * H, modelVersion: 'v1' })), [
    'ignored:alerts:too_old',
  ]);
  assert.deepEqual(kinds(ledger.failure('ghost', 99.5 * H)), []);
  assert.deepEqual(
    kinds(ledger.decide(open, 'v2')),
    ['detected:v1:5h'],
    'the failure at 95 h; the ghost waits for the fleet clock',
  );
  readings(ledger, 'm', 101, 101);
  assert.deepEqual(
    kinds(ledger.decide(open, 'v2')),
    ['ignored:failures:unknown_machine'],
    'the fleet clock passed 99.5 h + grace with no reading of it',
  );
  assert.deepEqual(kinds(ledger.decide(open, 'v2')), []);
});

test('a machine not seen yet is not written off while another partition still holds unread readings; its failure is judged when they come', () => {
  const ledger = new Ledger(opts);
  // 'near' reports on partition 0, 'far' on partition 1. The failures and alerts are read; partition 1 is not.
  ledger.alert({ alertId: 'a', machineId: 'far', ts: 8 * H, modelVersion: 'v1' });
  assert.deepEqual(kinds(ledger.failure('far', 10 * H)), ['true_alarm:v1']);
  readings(ledger, 'near', 0, 20);
  const farUnread: DecisionGate = { processed: () => true, unreadPartitions: [1] };
  assert.deepEqual(
    kinds(ledger.decide(farUnread, 'v2')),
    [],
    "the fleet clock passed 10 h + grace on partition 0 only: far's readings may be on partition 1",
  );
  assert.deepEqual(ledger.pending().failures, 1);
  for (let h = 0; h <= 12; h++) ledger.reading('far', h * H, { partition: 1, offset: h }, 'v2');
  assert.deepEqual(kinds(ledger.decide(open, 'v2')), ['detected:v1:2h']);

  // A machine that never reports is written off once every partition with unread records has passed f + grace.
  ledger.failure('ghost', 14 * H);
  readings(ledger, 'near', 21, 30);
  const behind: DecisionGate = { processed: () => true, unreadPartitions: [1] };
  assert.deepEqual(kinds(ledger.decide(behind, 'v2')), [], 'partition 1 is at 12 h, before 14 h + grace');
  ledger.reading('other', 15 * H, { partition: 1, offset: 13 }, 'v2');
  assert.deepEqual(kinds(ledger.decide(behind, 'v2')), ['ignored:failures:unknown_machine']);
});

test('exposure follows the readings clock; a re-delivered or late reading adds nothing; state is pruned and evicted by the retention', () => {
  const ledger = new Ledger(opts);
  const exposure = (events: readonly LedgerEvent[]) =>
    events.reduce((s, e) => s + (e.kind === 'exposure' ? e.ms : 0), 0);
  assert.equal(exposure(readings(ledger, 'm', 0, 10)), 10 * H);
  assert.equal(exposure(readings(ledger, 'm', 5, 10)), 0);
  ledger.alert({ alertId: 'a', machineId: 'm', ts: 9 * H, modelVersion: 'v1' });
  readings(ledger, 'quiet', 0, 0);
  readings(ledger, 'busy', 11, 200);
  // 'm' stopped at 10 h, before its alert's deadline: the alert can never be decided and leaves, counted.
  assert.deepEqual(kinds(ledger.decide(open, 'v2')), ['ignored:alerts:censored']);
  assert.equal(ledger.size, 1, 'only the busy machine is kept');
  assert.deepEqual(ledger.takeChanges().evicted.sort(), ['m', 'quiet']);
});

test("a shadow's scores vote through the alert policy; champion and shadow are judged apart on each failure; a redelivered score votes once", () => {
  const ledger = new Ledger(opts);
  // 2 of 3 at or above 0.5 raise; one low score of 3 keeps it raised; cooldown 1 h.
  const policy = { threshold: 0.5, hysteresis: 0.1, cooldownMs: H, raiseK: 2, windowN: 3, clearJ: 1 };
  const score = (m: string, h: number, s: number) => kinds(ledger.shadowScore(m, 'v9', h * H, s, policy));
  for (const m of ['a', 'b']) readings(ledger, m, 0, 20);
  assert.deepEqual(score('a', 1, 0.9), []);
  assert.deepEqual(score('a', 1, 0.9), ['ignored:scores:duplicate'], 'a redelivered score does not vote');
  assert.deepEqual(score('a', 2, 0.2), []);
  assert.deepEqual(score('a', 3, 0.8), [], '2 of the last 3: raised at 3 h, pending its failure');
  assert.deepEqual(ledger.pending().alerts, 1);
  // m-a fails at 5 h: the shadow detected it (lead 2 h), the champion (v2, no raise) missed it.
  assert.deepEqual(kinds(ledger.failure('a', 5 * H)), ['true_alarm:v9']);
  // m-b fails at 6 h after a champion raise only: the champion detected it, the shadow missed it.
  ledger.alert({ alertId: 'c1', machineId: 'b', ts: 4 * H, modelVersion: 'v2' });
  ledger.failure('b', 6 * H);
  readings(ledger, 'a', 21, 21);
  readings(ledger, 'b', 21, 21);
  assert.deepEqual(kinds(ledger.decide(open, 'v2', 'v9')).sort(), [
    'detected:v2:2h',
    'detected:v9:2h',
    'missed:v2',
    'missed:v9',
  ]);
});
