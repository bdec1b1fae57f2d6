import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Failure, LogEntry, Reading } from '../../src/ingest';
import { buildWindows } from '../../src/train/dataset';
import {
  applyCaps,
  decide,
  emptyMachine,
  keepOrder,
  mergeFresh,
  reseedSeen,
  SAMPLE,
  windowsOf,
} from '../../src/train/store-machine';
import { decodeMachine, encodeMachine, encodeMachineRaw } from '../../src/train/store-codec';
import type { MachineSamples } from '../../src/train/store-machine';
import { H, hourSpec, withoutCounts } from './store-spec';

const spec = hourSpec(3, 5, 4, 10);
const reading = (h: number): Reading => ({ machineId: 'm', ts: h * H, values: { a: h, b: -h } });
const log = (h: number): LogEntry => ({ machineId: 'm', ts: h * H, text: `Error${h} vibration` });
const failure = (h: number): Failure => ({ machineId: 'm', ts: h * H, component: undefined });
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

function add(m: MachineSamples, readings: Reading[], logs: LogEntry[], failures: Failure[]): void {
  mergeFresh(m, readings, logs, failures);
  decide(m, spec);
  applyCaps(m, keepOrder(m, spec), null, spec);
}

const shape = (
  ws: readonly { endTs: number; label: number; words: readonly string[]; readings: readonly unknown[] }[],
) => ws.map((w) => ({ endTs: w.endTs, label: w.label, words: w.words, readings: w.readings }));

test('with no budget binding, the store yields exactly the windows and labels built from the full history, across rounds', () => {
  const m = emptyMachine('m');
  const all = { readings: [] as Reading[], logs: [] as LogEntry[], failures: [] as Failure[] };
  // Round 1 ends before the failure at 37 h is known: the windows near the end are censored, not negatives.
  const rounds = [
    { readings: range(0, 30).map(reading), logs: [log(3), log(20), log(28)], failures: [failure(12)] },
    { readings: range(30, 45).map(reading), logs: [log(33)], failures: [failure(37)] },
    { readings: range(45, 90).map(reading), logs: [log(70)], failures: [] },
  ];
  for (const round of rounds) {
    add(m, round.readings, round.logs, round.failures);
    all.readings.push(...round.readings);
    all.logs.push(...round.logs);
    all.failures.push(...round.failures);
    const full = buildWindows(all.readings, all.logs, all.failures, spec);
    const stored = windowsOf(m, spec);
    assert.deepEqual(shape(stored.windows), shape(full.windows));
    assert.equal(stored.censored, full.summary.windows.censored);
    // What derived inputs need beyond the window: the machine's first reading and its newest log so far.
    for (const w of stored.windows) {
      const newest = Math.max(...all.logs.filter((l) => l.ts <= w.endTs).map((l) => l.ts));
      assert.deepEqual(w.context, { firstTs: 0, lastLogTs: Number.isFinite(newest) ? newest : undefined });
    }
  }
  // The readings far from both failures are still all there (nothing bounded), but as compact segments.
  assert.ok(m.segments.every((s) => s.values.length === s.ts.length * 2));
});

test('a late duplicate is ignored; a reading older than the decided windows is counted, not stored', () => {
  const m = emptyMachine('m');
  add(m, range(0, 40).map(reading), [], []);
  const before = windowsOf(m, spec).windows.length;
  add(m, [reading(5), { ...reading(5), ts: 5.5 * H }, reading(39)], [], []);
  assert.equal(m.lateReadings, 1);
  assert.equal(windowsOf(m, spec).windows.length, before);
});

test('a sample cap keeps blocks of consecutive windows, every time bucket first', () => {
  const m = emptyMachine('m');
  // 4 days of hourly readings, no failure: every decided window is a reservoir candidate.
  add(m, range(0, 4 * 24 + 10).map(reading), [], []);
  const order = keepOrder(m, spec);
  assert.equal(order.near.length, 0);
  applyCaps(m, order, { near: 0, sample: 12 }, spec);
  const kept = m.segments.flatMap((s) => s.ts.filter((_, i) => s.marks[i] === SAMPLE));
  assert.equal(kept.length, 12);
  const days = new Set(kept.map((ts) => Math.floor(ts / (24 * H))));
  const blocks = new Set(kept.map((ts) => Math.floor(ts / spec.horizonMs)));
  assert.equal(days.size, 4, 'one block from each day before a second from any');
  assert.ok(blocks.size <= 5, `${blocks.size} blocks: the windows are kept in runs, not one by one`);
  // Each kept window still has its whole window of readings (3 here).
  const windows = windowsOf(m, spec).windows.filter((w) => w.endTs <= m.decidedUntil);
  assert.equal(windows.length, 12);
  for (const w of windows)
    assert.deepEqual(
      w.readings.map((r) => r.ts),
      [w.endTs - 2 * H, w.endTs - H, w.endTs],
    );
});

/** Reservoir windows in their (day) bucket: kept and weighted. */
const sampleWindows = (m: MachineSamples) =>
  windowsOf(m, spec).windows.filter((w) => w.endTs <= m.decidedUntil && w.weight !== undefined);

test('kept reservoir windows weigh candidates / kept of their bucket, and the weights add up to every decided window', () => {
  const m = emptyMachine('m');
  // 6 days of hourly readings, one failure on day 2: near windows kept whole (weight 1), the rest sampled.
  add(m, range(0, 6 * 24 + 12).map(reading), [], [failure(50)]);
  const before = windowsOf(m, spec).windows.filter((w) => w.endTs <= m.decidedUntil).length;
  applyCaps(m, keepOrder(m, spec), { near: 1000, sample: 30 }, spec);
  const after = windowsOf(m, spec).windows.filter((w) => w.endTs <= m.decidedUntil);
  assert.ok(after.length < before / 2, `${after.length} of ${before} windows kept`);
  const total = after.reduce((n, w) => n + (w.weight ?? 1), 0);
  assert.ok(Math.abs(total - before) < 1e-9, `weights add up to ${total}, not ${before}`);
  assert.ok(
    after.filter((w) => w.label === 1).every((w) => w.weight === undefined),
    'positives weigh 1',
  );
  // Per bucket (day): every kept window of a bucket has the same weight, candidates seen / kept.
  const byDay = new Map<number, number[]>();
  for (const w of sampleWindows(m)) {
    const day = Math.floor(w.endTs / (24 * H));
    byDay.set(day, [...(byDay.get(day) ?? []), w.weight!]);
  }
  for (const [day, ws] of byDay) {
    assert.ok(new Set(ws).size === 1, `day ${day}: one weight`);
    assert.ok(ws[0]! >= 1);
  }
  // A later round adds candidates to the counts, not to the kept windows already decided.
  add(m, range(6 * 24 + 12, 8 * 24).map(reading), [], []);
  const grown = windowsOf(m, spec).windows.filter((w) => w.endTs <= m.decidedUntil);
  const full = buildWindows(range(0, 8 * 24).map(reading), [], [failure(50)], spec).windows;
  const grownTotal = grown.reduce((n, w) => n + (w.weight ?? 1), 0);
  const fullTotal = full.filter((w) => w.endTs <= m.decidedUntil).length;
  assert.ok(Math.abs(grownTotal - fullTotal) < 1e-9, `${grownTotal} vs ${fullTotal}`);
});

test('a bucket left with no kept window has its candidates counted in the nearest bucket that kept some', () => {
  const m = emptyMachine('m');
  add(m, range(0, 8 * 24).map(reading), [], []);
  const candidates = windowsOf(m, spec).windows.filter((w) => w.endTs <= m.decidedUntil).length;
  // One block (5 windows, one horizon) in all: seven of eight days keep nothing.
  applyCaps(m, keepOrder(m, spec), { near: 0, sample: 5 }, spec);
  const kept = sampleWindows(m);
  assert.equal(kept.length, 5);
  assert.ok(Math.abs(kept.reduce((n, w) => n + w.weight!, 0) - candidates) < 1e-9);
});

test('the reservoir counts survive the binary record; a record from before them decodes with weight 1', () => {
  const m = emptyMachine('m');
  add(m, range(0, 4 * 24).map(reading), [], []);
  applyCaps(m, keepOrder(m, spec), { near: 0, sample: 10 }, spec);
  const back = decodeMachine(encodeMachine(m));
  assert.deepEqual([...back.seen], [...m.seen]);
  assert.equal(back.seenBucketMs, spec.bucketMs);
  assert.deepEqual(
    windowsOf(back, spec).windows.map((w) => w.weight),
    windowsOf(m, spec).windows.map((w) => w.weight),
  );
  // The same record as the previous version wrote it: no counts in the header.
  const old = decodeMachine(withoutCounts(encodeMachineRaw(m)));
  assert.equal(old.seenBucketMs, null);
  reseedSeen(old, spec);
  assert.ok(sampleWindows(old).every((w) => w.weight === 1));
  assert.equal(sampleWindows(old).length, 10);
});
