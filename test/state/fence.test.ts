/**
 * Checkpoint fencing (src/state/checkpoint.ts) on the real Redis: a write never moves a machine's applied
 * offset backwards within one place (topic, partition, incarnation). Then the stale writer of issue 12
 * finding 4 through the real batch step: stalled in its produce while a new owner checkpointed further,
 * its checkpoint is refused and reported, it does not commit, and no alert comes back under a new id.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Message } from 'kafkajs';
import { StaleCheckpointError } from '../../src/errors';
import { createLogger } from '../../src/log';
import { createMetrics } from '../../src/metrics';
import { CheckpointStore, checkpointRefusals, MachineStore, newMachineState } from '../../src/state';
import type { CheckpointRefusal, MachineState, RecordPlace } from '../../src/state';
import { BatchStep } from '../../src/worker/batch';
import type { BatchOutcome } from '../../src/worker/batch';
import type { OutputRecords } from '../../src/worker/ports';
import { readingsBatch, T0, testConsumer, testRedis } from './fixtures';

const { redis, prefix } = testRedis();

const HOUR = 3_600_000;
const P0: RecordPlace = { topic: 'r', partition: 0, incarnation: 'i1' };

function stateAt(machineId: string, offset: number, place: RecordPlace | undefined = P0): MachineState {
  const s = newMachineState(machineId);
  s.readings.push({ ts: offset, values: { v: 1 } });
  s.applied.readings = offset;
  if (place) s.appliedAt = { readings: place };
  return s;
}

test('a checkpoint write that would move applied backwards is refused, reported, and leaves the newer one', async () => {
  const refusals: CheckpointRefusal[] = [];
  const store = new CheckpointStore(redis, prefix, 60, (r) => refusals.push(r));
  await store.save([stateAt('m-1', 299)]);
  await assert.rejects(store.save([stateAt('m-1', 199), stateAt('m-2', 5)]), (e: unknown) => {
    assert.ok(e instanceof StaleCheckpointError);
    assert.deepEqual(e.machineIds, ['m-1']);
    return true;
  });
  assert.deepEqual(refusals, [{ machineId: 'm-1', role: 'readings', stored: 299, offered: 199 }]);
  const loaded = await store.load(['m-1', 'm-2']);
  assert.equal(loaded.get('m-1')?.applied.readings, 299, 'the newer checkpoint stays');
  assert.equal(loaded.get('m-2')?.applied.readings, 5, 'the other machines of the batch were written');
  // Not a step back: the same offset again, or a lower one in another partition or topic incarnation.
  await store.save([stateAt('m-1', 299)]);
  await store.save([stateAt('m-1', 3, { ...P0, partition: 7 })]);
  await store.save([stateAt('m-1', 1, { ...P0, partition: 7, incarnation: 'i2' })]);
  assert.equal((await store.load(['m-1'])).get('m-1')?.applied.readings, 1);
  assert.equal(refusals.length, 1);
});

test('a checkpoint written before fencing (no fence key) is overwritten as before', async () => {
  const store = new CheckpointStore(redis, prefix);
  await redis.set(
    `${prefix}state:m-old`,
    JSON.stringify({
      machineId: 'm-old',
      readings: [],
      logs: [],
      alert: { state: 'clear' },
      applied: { readings: 80, logs: -1 },
    }),
  );
  await store.save([stateAt('m-old', 40)]);
  assert.equal((await store.load(['m-old'])).get('m-old')?.applied.readings, 40);
});

test('refusals are counted in pdm_checkpoint_refused_total{role}', async () => {
  const metrics = createMetrics(undefined, false);
  const report = checkpointRefusals(metrics.registry, createLogger('error'));
  report({ machineId: 'm', role: 'logs', stored: 2, offered: 1 });
  checkpointRefusals(
    metrics.registry,
    createLogger('error'),
  )({ machineId: 'm', role: 'logs', stored: 2, offered: 1 });
  assert.match(await metrics.registry.metrics(), /pdm_checkpoint_refused_total\{role="logs"\} 2/);
});

/** One worker's batch step over partition 0 of topic `r`, with the real checkpoint store and a gated producer. */
function owner(name: string, sent: Message[], gate?: Promise<void>) {
  const commits: string[] = [];
  const metrics = createMetrics(undefined, false);
  const refusals: CheckpointRefusal[] = [];
  const checkpoints = new CheckpointStore(redis, `${prefix}b:`, 60, (r) => refusals.push(r));
  const step = new BatchStep(
    {
      topics: { readings: 'r', logs: 'l', alerts: 'a', scores: undefined, dlq: 'd' },
      limits: { window: 2, allowedLatenessMs: HOUR, logLookbackMs: HOUR, maxLogTokens: 10 },
      alerts: { cooldownMs: 0, hysteresis: 0.1, raiseK: 1, windowN: 1, clearJ: 1, flapWindowMs: 0 },
    },
    { store: new MachineStore(100, HOUR), partitionOf: new Map(), processed: () => undefined },
    {
      producer: {
        send: async (records: readonly OutputRecords[]) => {
          await gate;
          for (const r of records) sent.push(...r.messages);
        },
      },
      checkpoints,
      model: {
        hasModel: () => true,
        unusable: () => undefined,
        score: async (s) => ({
          score: s.readings.at(-1)?.values.v ?? 0,
          modelVersion: 'v1',
          meta: { threshold: 0.5, sensors: ['v'], scaler: { mean: [0.5], std: [0.25] } },
        }),
      },
      clock: { now: () => T0 },
    },
    metrics,
    createLogger('error', { test: name }),
  );
  const run = (from: number, to: number, stale = () => false): Promise<BatchOutcome> =>
    step.run(readingsBatch(from, to), testConsumer(commits, stale));
  return { run, commits, refusals };
}

test('a stale writer stalled in its produce cannot move applied back, does not commit, and raises no new alert id', async () => {
  const alertIds = (ms: Message[]) =>
    ms.map((m) => (JSON.parse(String(m.value)) as { alertId: string }).alertId);
  // The new owner's view: offsets 0..11 in three batches, every one committed.
  const fresh: Message[] = [];
  const next = owner('next', fresh);
  // The stale owner fetched offsets 0..5 and stalls in its produce (its broker traffic is blocked).
  let release = () => undefined as void;
  const stalled: Message[] = [];
  const stale = owner('stale', stalled, new Promise<void>((r) => (release = r)));
  // Its session expires while it is stalled, but kafkajs only learns so on its next heartbeat, so
  // isStale() is still false when the produce returns: the checkpoint fence is what stops it.
  const stuck = stale.run(0, 6);
  for (const [from, to] of [
    [0, 4],
    [4, 8],
    [8, 12],
  ] as const)
    assert.equal((await next.run(from, to)).status, 'committed');
  release();
  const outcome = await stuck;
  assert.equal(outcome.status, 'revoked', 'the stale batch is treated as revoked');
  assert.deepEqual(stale.commits, [], 'the stale writer committed nothing');
  assert.deepEqual(
    stale.refusals.map((r) => [r.stored, r.offered]),
    [[11, 5]],
  );
  const applied = (await new CheckpointStore(redis, `${prefix}b:`).load(['m-1'])).get('m-1')?.applied;
  assert.equal(applied?.readings, 11, 'applied never went back');
  // Whatever the stale writer published is a duplicate of the new owner's (same ids), and a third owner
  // that resumes from the checkpoint re-alerts nothing it already had.
  const known = new Set(alertIds(fresh));
  assert.ok(alertIds(stalled).length > 0 && alertIds(stalled).every((id) => known.has(id)));
  const third: Message[] = [];
  await owner('third', third).run(8, 14);
  assert.ok(
    alertIds(third).every((id) => !known.has(id)),
    'records 8..11 were not re-alerted',
  );
  assert.ok(alertIds(third).length > 0, 'records 12, 13 alerted');
});
