import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { createMetrics } from '../../src/metrics';
import { Incarnations, commitMetadata, incarnationOf, newMachineState } from '../../src/state';
import type { RecordPlace } from '../../src/state';
import { decodeState, encodeState } from '../../src/state/codec';
import { applyLog, applyReading } from '../../src/worker/apply';
import type { ApplyContext } from '../../src/worker/apply';

const HOUR = 3_600_000;
const LIMITS = { window: 3, allowedLatenessMs: HOUR, logLookbackMs: 24 * HOUR, maxLogTokens: 100 };

function context(): { ctx: ApplyContext; dropped: () => Promise<number> } {
  const metrics = createMetrics(new Registry(), false);
  const ctx: ApplyContext = { topic: 'r', limits: LIMITS, metrics, hasModel: () => true };
  const dropped = async () =>
    (await metrics.recordsDropped.get()).values
      .filter((v) => v.labels.reason === 'redelivered')
      .reduce((n, v) => n + v.value, 0);
  return { ctx, dropped };
}

const place = (partition: number, incarnation = 'i1', topic = 'r'): RecordPlace => ({
  topic,
  partition,
  incarnation,
});
const reading = (h: number) => ({ machineId: 'm-1', ts: h * HOUR, values: { v: h } });
const at = (p: RecordPlace, offset: number) => ({ place: p, offset, producedAt: 0 });

test('a record at or below the bookmark of the same topic, partition and incarnation is redelivered', async () => {
  const { ctx, dropped } = context();
  const state = newMachineState('m-1');
  for (let h = 0; h < 5; h++) applyReading(state, reading(h), at(place(0), 100 + h), ctx);
  assert.equal(state.applied.readings, 104);
  assert.deepEqual(state.appliedAt?.readings, place(0));
  // Re-delivered after a crash between checkpoint and commit: not applied again.
  assert.deepEqual(applyReading(state, reading(4), at(place(0), 104), ctx), {});
  assert.equal(await dropped(), 1);
});

test('an offset of another partition, topic incarnation or topic is new, not redelivered', async () => {
  const { ctx, dropped } = context();
  const state = newMachineState('m-1');
  for (let h = 0; h < 3; h++) applyReading(state, reading(h), at(place(0), 900 + h), ctx);
  // Partitions were added: the machine's records now land on partition 5, offsets from 0.
  const moved = applyReading(state, reading(3), at(place(5), 0), ctx);
  assert.equal(moved.score?.ts, 3 * HOUR, 'scored on the new partition');
  assert.deepEqual(state.appliedAt?.readings, place(5));
  // The topic was recreated (a new incarnation): offset 1 again is a different record.
  assert.equal(applyReading(state, reading(4), at(place(5, 'i2'), 1), ctx).score?.ts, 4 * HOUR);
  // Logs keep a bookmark of their own.
  applyLog(state, { machineId: 'm-1', ts: 4 * HOUR, text: 'pump noise' }, at(place(5, 'i2', 'l'), 7), ctx);
  assert.deepEqual(state.appliedAt?.logs, place(5, 'i2', 'l'));
  assert.equal(state.applied.logs, 7);
  assert.equal(await dropped(), 0, 'no record was dropped as redelivered');
});

test('a bookmark from a checkpoint without places keeps its old meaning until the next write', async () => {
  const { ctx, dropped } = context();
  const state = newMachineState('m-1');
  state.applied.readings = 50; // as loaded from an old checkpoint: an offset, no place
  applyReading(state, reading(0), at(place(2), 50), ctx);
  assert.equal(await dropped(), 1);
  applyReading(state, reading(1), at(place(2), 51), ctx);
  assert.deepEqual(state.appliedAt?.readings, place(2));
});

test('places round-trip through the codec, and a checkpoint header without them still decodes', () => {
  const state = newMachineState('m-1');
  state.readings.push({ ts: 1, values: { v: 2 } });
  state.applied = { readings: 10, logs: 4 };
  state.appliedAt = { readings: place(3), logs: place(3, 'i1', 'l') };
  assert.deepEqual(decodeState(encodeState(state)), state);

  // A binary checkpoint written by the previous version: the same header, no `appliedAt`.
  const header = Buffer.from(
    JSON.stringify({
      machineId: 'm-old',
      logs: [],
      alert: { state: 'clear' },
      applied: { readings: 9, logs: -1 },
      sensors: [],
      count: 0,
    }),
  );
  const old = Buffer.concat([Buffer.from([2, 0, 0, 0, 0]), header]);
  old.writeUInt32LE(header.length, 1);
  const loaded = decodeState(old);
  assert.deepEqual(loaded.applied, { readings: 9, logs: -1 });
  assert.equal(loaded.appliedAt, undefined);
});

test('incarnations: read back from the commit metadata, minted (and committed) where the group has no pdm commit', async () => {
  const commits = new Map<number, string | null>([
    [0, commitMetadata('abc')],
    [1, null], // committed by a tool (offset reset): no incarnation
  ]);
  let asked = 0;
  let minted = 0;
  const persisted: string[] = [];
  const inc = new Incarnations(
    async () => {
      asked++;
      return [...commits].map(([partition, metadata]) => ({ partition, metadata }));
    },
    async (topic, partition, offset, metadata) => {
      persisted.push(`${topic}/${partition}@${offset}=${incarnationOf(metadata)}`);
    },
    () => `new${++minted}`,
  );
  assert.equal(await inc.of('r', 0, 10, 19), 'abc');
  assert.equal(await inc.of('r', 0, 20, 29), 'abc');
  assert.equal(asked, 1, 'asked once per assignment');
  assert.equal(await inc.of('r', 1, 0, 5), 'new1');
  assert.equal(await inc.of('r', 2, 0, 5), 'new2', 'a partition without any commit (just added)');
  assert.equal(inc.metadata('r', 2), commitMetadata('new2'));
  assert.equal(incarnationOf(inc.metadata('r', 2)), 'new2');
  // The fetch position went back (the topic was recreated under the consumer): ask the group again.
  commits.set(0, null);
  assert.equal(await inc.of('r', 0, 0, 3), 'new3');
  assert.deepEqual(
    persisted,
    ['r/1@0=new1', 'r/2@0=new2', 'r/0@0=new3'],
    "every minted incarnation is committed at its batch's first offset before it is used",
  );
  inc.clear();
  assert.equal(inc.metadata('r', 0), undefined);
  assert.equal(incarnationOf('something else'), undefined);
});

test('incarnations: a minted incarnation survives the batch that minted it (a retry or the next owner reads it back)', async () => {
  const commits = new Map<number, string>();
  const group = async () => [...commits].map(([partition, metadata]) => ({ partition, metadata }));
  const commit = async (_topic: string, partition: number, _offset: number, metadata: string) => {
    commits.set(partition, metadata);
  };
  let minted = 0;
  const first = new Incarnations(group, commit, () => `id${++minted}`);
  const id = await first.of('r', 3, 0, 99);
  // The batch failed before its own commit: the same worker retries it from offset 0, or another owner takes it.
  assert.equal(await first.of('r', 3, 0, 99), id, 'the retry of the batch');
  const next = new Incarnations(group, commit, () => `id${++minted}`);
  assert.equal(await next.of('r', 3, 0, 99), id, 'the next owner');
  assert.equal(minted, 1);
});
