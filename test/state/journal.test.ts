/**
 * The decision journal (src/state/journal.ts) on the real Redis: entries written before a batch's sends,
 * read back exactly, and removed by the checkpoint script atomically with the state when it covers them
 * (entries beyond the applied offset of its place stay). Then through the real batch step: a crash after
 * the sends and before the checkpoint, a redelivery while another model version serves, the same alerts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Message } from 'kafkajs';
import { createLogger } from '../../src/log';
import { createMetrics } from '../../src/metrics';
import { CheckpointStore, MachineStore, newMachineState } from '../../src/state';
import type { Decision, MachineState, RecordPlace } from '../../src/state';
import { BatchStep } from '../../src/worker/batch';
import type { CheckpointPort, Scoring, WindowScore } from '../../src/worker/ports';
import { readingsBatch, T0, testConsumer, testRedis } from './fixtures';

const { redis, prefix } = testRedis();

const HOUR = 3_600_000;
const P0: RecordPlace = { topic: 'r', partition: 0, incarnation: 'i1' };

const decision = (machineId: string, offset: number, place: RecordPlace = P0): Decision => ({
  machineId,
  place,
  offset,
  ts: T0 + offset * HOUR,
  modelVersion: 'v1',
  score: 0.1 + offset / 3, // not a round number: it must come back exactly
  threshold: 0.5,
});

function stateAt(machineId: string, offset: number, place: RecordPlace = P0): MachineState {
  const s = newMachineState(machineId);
  s.applied.readings = offset;
  s.appliedAt = { readings: place };
  return s;
}

const offsets = async (store: CheckpointStore, id: string) =>
  ((await store.journaled([id])).get(id) ?? []).map((d) => d.offset).sort((a, b) => a - b);

test('journaled decisions come back exactly, per machine, and expire with the checkpoint ttl', async () => {
  const store = new CheckpointStore(redis, prefix, 60);
  const written = [decision('m-1', 4), decision('m-1', 5), decision('m-2', 4)];
  await store.record(written);
  const read = await store.journaled(['m-1', 'm-2', 'm-3']);
  assert.deepEqual([...read.keys()].sort(), ['m-1', 'm-2'], 'a machine without entries is absent');
  const all = [...read.values()].flat();
  assert.deepEqual(
    new Set(all.map((d) => JSON.stringify(d))),
    new Set(written.map((d) => JSON.stringify(d))),
  );
  const ttl = await redis.ttl(`${prefix}journal:m-1`);
  assert.ok(ttl > 0 && ttl <= 60, `the journal expires (ttl ${ttl})`);
  // An entry that is not one (written by hand) is skipped, not fatal.
  await redis.hset(`${prefix}journal:m-2`, 'garbage', '[1]', 'r|0|i1#9', 'not json');
  assert.deepEqual(await offsets(store, 'm-2'), [4]);
});

test('a checkpoint removes the entries it covers and keeps those beyond its applied offset, in one script', async () => {
  const store = new CheckpointStore(redis, prefix, 60);
  const other: RecordPlace = { ...P0, incarnation: 'i0' };
  await store.record([4, 5, 6, 7].map((o) => decision('m-5', o)).concat(decision('m-5', 9, other)));
  // A redelivered batch shorter than the first (offsets 4, 5): 6 and 7 wait for the next batch.
  await store.save([stateAt('m-5', 5)]);
  assert.deepEqual(await offsets(store, 'm-5'), [6, 7], 'covered and other-place entries went');
  await store.save([stateAt('m-5', 7)]);
  assert.equal(await redis.exists(`${prefix}journal:m-5`), 0, 'all covered: the key is gone');
  // A refused (stale) checkpoint removes nothing.
  await store.record([decision('m-5', 8)]);
  await assert.rejects(store.save([stateAt('m-5', 3)]));
  assert.deepEqual(await offsets(store, 'm-5'), [8]);
  // Deleting every checkpoint (a replay) deletes the journals too, also one without a checkpoint.
  await store.record([decision('m-orphan', 1)]);
  await store.deleteAll();
  assert.deepEqual(await redis.keys(`${prefix}journal:*`), []);
});

/** A batch step over partition 0 of `r`, with the real checkpoint store (optionally failing its writes). */
function owner(score: (s: Scoring) => WindowScore, sent: Message[], failSave = false, sub = 'b:') {
  const metrics = createMetrics(undefined, false);
  const real = new CheckpointStore(redis, `${prefix}${sub}`, 60);
  const checkpoints: CheckpointPort = {
    load: (ids, onCorrupt) => real.load(ids, onCorrupt),
    save: (states) =>
      failSave ? Promise.reject(Object.assign(new Error('crash'), { retriable: false })) : real.save(states),
    record: (decisions) => real.record(decisions),
    journaled: (ids) => real.journaled(ids),
  };
  const step = new BatchStep(
    {
      topics: { readings: 'r', logs: 'l', alerts: 'a', scores: undefined, dlq: 'd' },
      limits: { window: 2, allowedLatenessMs: HOUR, logLookbackMs: HOUR, maxLogTokens: 10 },
      alerts: { cooldownMs: 0, hysteresis: 0.1, raiseK: 1, windowN: 1, clearJ: 1, flapWindowMs: 0 },
    },
    { store: new MachineStore(100, HOUR), partitionOf: new Map(), processed: () => undefined },
    {
      producer: { send: async (records) => void records.forEach((r) => sent.push(...r.messages)) },
      checkpoints,
      model: { hasModel: () => true, unusable: () => undefined, score: async (s) => score(s) },
      clock: { now: () => T0 },
    },
    metrics,
    createLogger('error', { test: 'journal' }),
  );
  const run = (from: number, to: number) => step.run(readingsBatch(from, to), testConsumer());
  return { run, metrics };
}

test('through the batch step: a crash after the sends, a promotion, a redelivery: the same alerts, journal emptied', async () => {
  const meta = { threshold: 0.5, sensors: ['v'], scaler: { mean: [0.5], std: [0.25] } };
  const v1 = (s: Scoring) => ({ score: s.readings.at(-1)?.values.v ?? 0, modelVersion: 'v1', meta });
  const v2 = (s: Scoring) => ({ score: 1 - v1(s).score, modelVersion: 'v2', meta });
  const alerts = (ms: Message[]) => ms.map((m) => String(m.value).replace(/"emittedAt":"[^"]*",/, ''));
  const first: Message[] = [];
  await assert.rejects(owner(v1, first, true).run(0, 8), /crash/);
  assert.ok(alerts(first).length >= 3, 'the crashed batch published its alerts');
  const again: Message[] = [];
  const heir = owner(v2, again);
  assert.equal((await heir.run(0, 8)).status, 'committed');
  assert.deepEqual(alerts(again), alerts(first), 'the same alerts, ids and versions');
  assert.match(await heir.metrics.registry.metrics(), /pdm_decisions_reused_total 7/);
  assert.equal(await redis.exists(`${prefix}b:journal:m-1`), 0, 'the checkpoint removed the entries');
  // Without the journal (a fresh prefix), v2 judges the same records otherwise.
  const rescored: Message[] = [];
  await owner(v2, rescored, false, 'c:').run(0, 8);
  assert.notDeepEqual(alerts(rescored), alerts(first));
});
