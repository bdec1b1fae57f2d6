/**
 * The batch step (src/worker/batch.ts) with in-memory ports: no broker, no Redis, no model. A "world"
 * holds what survives a crash (the input log, the committed offset, the checkpoints, the acknowledged
 * outputs); a "process" holds what does not (the machine states in memory). A crash throws from a port at
 * one point of ack → checkpoint → commit, the process is thrown away, and a new one consumes from the
 * committed offset, as the next owner of the partition would. The real components are exercised by the
 * integration tests beside this file and by test/faults.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Config } from '../../src/config';
import { createLogger } from '../../src/log';
import { createMetrics } from '../../src/metrics';
import type { Metrics } from '../../src/metrics';
import { MachineStore, outlives } from '../../src/state';
import type { Decision, MachineState } from '../../src/state';
import { BatchStep } from '../../src/worker/batch';
import type { BatchOutcome } from '../../src/worker/batch';
import { decodeBatch } from '../../src/worker/decode';
import type { BatchConsumer, Scoring, WindowScore } from '../../src/worker/ports';

const TOPICS = { readings: 'r', logs: 'l', alerts: 'a', scores: 's', dlq: 'd' } as const;
const PARTITION = 0;
const T0 = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;
const ALERTS: Config['alerts'] = {
  cooldownMs: 0,
  hysteresis: 0.1,
  raiseK: 1,
  windowN: 1,
  clearJ: 1,
  flapWindowMs: 0,
};
const LIMITS = { window: 2, allowedLatenessMs: HOUR, logLookbackMs: 24 * HOUR, maxLogTokens: 100 };
const BATCH = 4;

interface Input {
  readonly key: Buffer;
  readonly value: Buffer;
  readonly offset: string;
  readonly timestamp: string;
}

/** Two machines whose score (the reading's `v`) crosses the threshold up and down, and one poison record. */
function inputLog(): Input[] {
  const values = [0.9, 0.1, 0.8, 0.2, 0.95, 0.05];
  const records: { key: string; value: string }[] = [];
  values.forEach((v, h) => {
    for (const machineId of ['m-1', 'm-2'])
      records.push({
        key: machineId,
        value: JSON.stringify({
          machineId,
          ts: T0 + h * HOUR,
          values: { v: machineId === 'm-1' ? v : 1 - v },
        }),
      });
    if (h === 2) records.push({ key: 'm-1', value: '{not json' });
  });
  return records.map((r, i) => ({
    key: Buffer.from(r.key),
    value: Buffer.from(r.value),
    offset: String(i),
    timestamp: String(T0 + i),
  }));
}

type Point =
  | 'journal:before'
  | 'journal:after'
  | 'send:before'
  | 'send:after'
  | 'checkpoint:before'
  | 'checkpoint:after'
  | 'commit:before'
  | 'commit:after';
const POINTS: readonly Point[] = [
  'journal:before',
  'journal:after',
  'send:before',
  'send:after',
  'checkpoint:before',
  'checkpoint:after',
  'commit:before',
  'commit:after',
];

/** A crash: not retriable, so the step's checkpoint retry gives up at once, as a dead process would. */
class Crash extends Error {
  readonly retriable = false;
}

const META = { threshold: 0.5, sensors: ['v'], scaler: { mean: [0.5], std: [0.25] } };
/** The model that serves: `v1` scores a window by its last reading's `v`. */
const V1 = (s: Scoring): WindowScore => ({
  score: s.readings.at(-1)?.values.v ?? 0,
  modelVersion: 'v1',
  meta: META,
});
/** A version promoted later that judges the opposite way (or: v1 on inputs that differ, e.g. logs arrived since). */
const V2 = (s: Scoring): WindowScore => ({ score: 1 - V1(s).score, modelVersion: 'v2', meta: META });

interface Alert {
  readonly alertId: string;
  readonly machineId: string;
  readonly state: string;
  readonly ts: string;
  readonly modelVersion: string;
}

/** v1 on other inputs: a window with log words in it is judged the other way. */
const V1_LOGS = (s: Scoring): WindowScore => (s.words.length ? { ...V2(s), modelVersion: 'v1' } : V1(s));

/** What survives a crash. */
class World {
  readonly log = inputLog();
  committed = 0;
  readonly checkpoints = new Map<string, string>();
  /** The decision journal in Redis: machine → `offset` → decision. */
  readonly journal = new Map<string, Map<number, Decision>>();
  /** The version promoted now. */
  serving: (s: Scoring) => WindowScore = V1;
  readonly published: { topic: string; value: string }[] = [];
  readonly trace: string[] = [];
  /** Why the promoted model cannot serve, while it cannot. */
  modelUnusable: string | undefined;
  /** Crash the process the `nth` time (1-based) it reaches `point`. */
  crashAt: { point: Point; nth: number } | undefined;
  /** Revoke the partition (isStale → true) the next time a batch reaches this point. */
  revokeAt: Point | undefined;
  revoked = false;
  private readonly reached = new Map<Point, number>();

  /** Crash the next time a batch reaches `point`. */
  crashNext(point: Point): void {
    this.crashAt = { point, nth: (this.reached.get(point) ?? 0) + 1 };
  }

  at(point: Point): void {
    this.trace.push(point);
    const n = (this.reached.get(point) ?? 0) + 1;
    this.reached.set(point, n);
    if (this.revokeAt === point) {
      this.revoked = true;
      this.revokeAt = undefined;
    }
    if (this.crashAt?.point === point && this.crashAt.nth === n) throw new Crash(`crash at ${point}`);
  }

  journalSize(): number {
    return [...this.journal.values()].reduce((n, m) => n + m.size, 0);
  }

  alerts(): Alert[] {
    return this.published.filter((p) => p.topic === TOPICS.alerts).map((p) => JSON.parse(p.value) as Alert);
  }

  deadLetterOffsets(): string[] {
    return this.published
      .filter((p) => p.topic === TOPICS.dlq)
      .map((p) => (JSON.parse(p.value) as { offset: string }).offset);
  }
}

/** What a crash loses: the machine states in memory. */
class Process {
  readonly store = new MachineStore(1_000, HOUR, () => 0);
  readonly partitionOf = new Map<string, number>();
  readonly metrics: Metrics = createMetrics(undefined, false);
  readonly step: BatchStep;

  constructor(private readonly world: World) {
    const w = world;
    this.step = new BatchStep(
      { topics: TOPICS, limits: LIMITS, alerts: ALERTS },
      { store: this.store, partitionOf: this.partitionOf, processed: () => undefined },
      {
        producer: {
          send: async (records) => {
            w.at('send:before');
            for (const r of records)
              for (const m of r.messages) w.published.push({ topic: r.topic, value: String(m.value) });
            w.at('send:after');
          },
        },
        checkpoints: {
          load: async (ids) => {
            w.trace.push('load');
            const out = new Map<string, MachineState>();
            for (const id of ids) {
              const body = w.checkpoints.get(id);
              if (body) out.set(id, JSON.parse(body) as MachineState);
            }
            return out;
          },
          save: async (states) => {
            w.at('checkpoint:before');
            for (const s of states) {
              w.checkpoints.set(s.machineId, JSON.stringify(s));
              // As the checkpoint script does, atomically with the state: drop the entries it covers.
              const journal = w.journal.get(s.machineId);
              for (const [offset, d] of journal ?? []) if (!outlives(d, s)) journal?.delete(offset);
              if (journal?.size === 0) w.journal.delete(s.machineId);
            }
            w.at('checkpoint:after');
          },
          record: async (decisions) => {
            w.at('journal:before');
            for (const d of decisions) {
              if (!w.journal.has(d.machineId)) w.journal.set(d.machineId, new Map());
              w.journal.get(d.machineId)?.set(d.offset, d);
            }
            w.at('journal:after');
          },
          journaled: async (ids) =>
            new Map(
              ids.flatMap((id) => {
                const entries = [...(w.journal.get(id)?.values() ?? [])];
                return entries.length ? [[id, entries] as const] : [];
              }),
            ),
        },
        model: {
          hasModel: () => true,
          unusable: () => w.modelUnusable,
          score: async (s: Scoring) => w.serving(s),
        },
        clock: { now: () => T0 + 365 * 24 * HOUR },
      },
      this.metrics,
      createLogger('error', { test: 'batch' }),
    );
  }

  /** One fetch from the committed offset, as kafkajs delivers it. */
  async deliverOne(size = BATCH, incarnation?: string): Promise<BatchOutcome> {
    const w = this.world;
    const messages = w.log.slice(w.committed, w.committed + size);
    const consumer: BatchConsumer = {
      isRunning: () => true,
      isStale: () => w.revoked,
      heartbeat: async () => undefined,
      resolveOffset: () => undefined,
      pause: () => w.trace.push('pause'),
      commit: async (offset) => {
        w.at('commit:before');
        w.committed = Number(offset);
        w.at('commit:after');
      },
    };
    const decoded = await decodeBatch(messages, 'readings', {
      maxRecordBytes: 10_000,
      maxFutureSkewMs: HOUR,
      now: () => T0 + 365 * 24 * HOUR,
      requireKey: true,
    });
    return this.step.run(
      { topic: TOPICS.readings, partition: PARTITION, incarnation, messages, decoded },
      consumer,
    );
  }

  /** One batch of the logs topic: a log line for each machine at `ts` (offsets from `offset`). */
  async deliverLogs(ts: number, offset: number): Promise<BatchOutcome> {
    const messages = ['m-1', 'm-2'].map((machineId, i) => ({
      key: Buffer.from(machineId),
      value: Buffer.from(JSON.stringify({ machineId, ts, text: 'bearing noise' })),
      offset: String(offset + i),
      timestamp: String(T0),
    }));
    const decoded = await decodeBatch(messages, 'logs', {
      maxRecordBytes: 10_000,
      maxFutureSkewMs: HOUR,
      now: () => T0 + 365 * 24 * HOUR,
      requireKey: true,
    });
    const consumer: BatchConsumer = {
      isRunning: () => true,
      isStale: () => false,
      heartbeat: async () => undefined,
      resolveOffset: () => undefined,
      pause: () => undefined,
      commit: async () => undefined,
    };
    return this.step.run({ topic: TOPICS.logs, partition: PARTITION, messages, decoded }, consumer);
  }

  async counter(name: string, labels: Record<string, string>): Promise<number> {
    const metric = (await this.metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
    const values = (metric?.values ?? []) as { value: number; labels: Record<string, string | number> }[];
    return values
      .filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
      .reduce((n, v) => n + v.value, 0);
  }
}

/** Consumes the whole log; a crash ends the process and a fresh one takes over from the committed offset. */
async function consumeAll(world: World): Promise<{ crashes: number; processes: Process[] }> {
  const processes = [new Process(world)];
  let crashes = 0;
  for (let guard = 0; world.committed < world.log.length; guard++) {
    assert.ok(guard < 100, 'the log is consumed in a bounded number of deliveries');
    try {
      await processes.at(-1)!.deliverOne();
    } catch (error) {
      assert.ok(error instanceof Crash, String(error));
      crashes++;
      processes.push(new Process(world));
    }
  }
  return { crashes, processes };
}

/** The checkpoints as data (their JSON key order depends on the order fields were set). */
const states = (world: World) =>
  new Map([...world.checkpoints].sort().map(([id, body]) => [id, JSON.parse(body) as unknown]));

const countBy = (ids: readonly string[]) =>
  ids.reduce((m, id) => m.set(id, (m.get(id) ?? 0) + 1), new Map<string, number>());

test('a batch acks its outputs, then writes its checkpoints, then commits its offset', async () => {
  const world = new World();
  const outcome = await new Process(world).deliverOne();
  assert.deepEqual(world.trace, [
    'load',
    'journal:before',
    'journal:after',
    'send:before',
    'send:after',
    'checkpoint:before',
    'checkpoint:after',
    'commit:before',
    'commit:after',
  ]);
  assert.deepEqual(
    { status: outcome.status, committed: outcome.committed, checkpointed: [...outcome.checkpointed].sort() },
    { status: 'committed', committed: String(BATCH), checkpointed: ['m-1', 'm-2'] },
  );
  // Window 2: the second reading of each machine is its first score; m-1 0.1 stays clear, m-2 0.9 raises.
  assert.deepEqual(
    world.alerts().map((a) => `${a.state} ${a.ts}`),
    [`raised ${new Date(T0 + HOUR).toISOString()}`],
  );
  assert.equal(outcome.sent, 3, 'one alert and two scores');
});

test('a crash at each point of ack → checkpoint → commit loses no alert and re-publishes only under the same ids', async () => {
  const baseline = new World();
  await consumeAll(baseline);
  const expected = countBy(baseline.alerts().map((a) => a.alertId));
  assert.ok(expected.size >= 6, `the input raises and clears several alerts (${expected.size})`);
  assert.ok(
    [...expected.values()].every((n) => n === 1),
    'without a crash every alert is published once',
  );
  const batches = Math.ceil(baseline.log.length / BATCH);
  for (const point of POINTS) {
    for (let nth = 1; nth <= batches; nth++) {
      const world = new World();
      world.crashAt = { point, nth };
      const { crashes } = await consumeAll(world);
      const where = `${point} #${nth}`;
      const got = countBy(world.alerts().map((a) => a.alertId));
      assert.deepEqual(
        [...got.keys()].sort(),
        [...expected.keys()].sort(),
        `${where}: the same alert ids, none lost, none new`,
      );
      assert.deepEqual(
        [...new Set(world.deadLetterOffsets())],
        baseline.deadLetterOffsets(),
        `${where}: the poison record is dead-lettered`,
      );
      assert.equal(world.committed, world.log.length, `${where}: everything committed in the end`);
      assert.deepEqual(states(world), states(baseline), `${where}: the checkpoints converge`);
      if (nth === 1) assert.equal(crashes, 1, `${where}: the crash happened`);
      if (crashes === 0) continue; // that point is reached fewer than nth times
      const duplicated = [...got.values()].some((n) => n > 1);
      // Outputs acknowledged but not checkpointed: the batch is applied again and its alerts re-published
      // (same ids). Checkpointed but not committed: the redelivered records are at or below `applied`.
      if (point === 'checkpoint:after' || point === 'commit:before')
        assert.equal(duplicated, false, `${where}: redelivered records are not re-alerted`);
      if (point === 'commit:after')
        assert.equal(duplicated, false, `${where}: a commit that landed re-delivers nothing`);
    }
  }
});

test('redelivered records at or below the checkpoint applied offset are dropped, not re-alerted', async () => {
  const world = new World();
  world.crashAt = { point: 'checkpoint:after', nth: 2 };
  const { processes } = await consumeAll(world);
  const heir = processes[1]!;
  // The second batch (offsets 4..7) was checkpointed but not committed: its new owner drops its valid records.
  const valid = world.log
    .slice(BATCH, 2 * BATCH)
    .filter((r) => !r.value.toString().startsWith('{not')).length;
  assert.equal(await heir.counter('pdm_records_dropped_total', { reason: 'redelivered' }), valid);
  const ids = world.alerts().map((a) => a.alertId);
  assert.equal(new Set(ids).size, ids.length, 'no alert published twice');

  // Replaying the whole log into a fresh process after everything was applied: nothing is re-alerted.
  const before = world.alerts().length;
  world.committed = 0;
  const replay = await consumeAll(world);
  assert.equal(world.alerts().length, before);
  assert.equal(
    await replay.processes[0]!.counter('pdm_records_dropped_total', { reason: 'redelivered' }),
    world.log.length - 1,
  );
});

test('after outputs are acked and before the checkpoint, a crash re-publishes the batch alerts under the same ids', async () => {
  const baseline = new World();
  await consumeAll(baseline);
  const world = new World();
  world.crashAt = { point: 'checkpoint:before', nth: 1 };
  await consumeAll(world);
  const first = world.alerts()[0]!;
  const copies = world.alerts().filter((a) => a.alertId === first.alertId);
  assert.equal(
    copies.length,
    2,
    'the first batch alert was published, lost its checkpoint, and was published again',
  );
  assert.deepEqual(copies[0], copies[1], 'the same record both times');
  assert.deepEqual(
    new Set(world.alerts().map((a) => a.alertId)),
    new Set(baseline.alerts().map((a) => a.alertId)),
  );
});

test('a failed batch retried in the same process leaves no trace in memory: machines reload from their checkpoints', async () => {
  const world = new World();
  const proc = new Process(world);
  await proc.deliverOne();
  world.crashNext('checkpoint:before');
  await assert.rejects(proc.deliverOne(), Crash);
  assert.equal(proc.store.has('m-1'), false, 'the machines of the failed batch were dropped from memory');
  assert.equal(world.committed, BATCH);
  const outcome = await proc.deliverOne(); // kafkajs retries the same batch
  assert.equal(outcome.status, 'committed');
  assert.equal(
    world.trace.filter((t) => t === 'load').length,
    2,
    'the retry reloaded the machines from their checkpoints',
  );
  const ids = world.alerts().map((a) => a.alertId);
  const baseline = new World();
  const base = new Process(baseline);
  await base.deliverOne();
  await base.deliverOne();
  assert.deepEqual(new Set(ids), new Set(baseline.alerts().map((a) => a.alertId)));
  assert.deepEqual(states(world), states(baseline));
});

test('a partition revoked mid-batch: no checkpoint and no commit for it; the next owner re-applies and loses nothing', async () => {
  const baseline = new World();
  await consumeAll(baseline);
  const world = new World();
  const first = new Process(world);
  await first.deliverOne();
  const checkpointsBefore = new Map(world.checkpoints);
  world.revokeAt = 'send:after';
  const outcome = await first.deliverOne();
  assert.deepEqual(
    { status: outcome.status, checkpointed: outcome.checkpointed, committed: outcome.committed },
    { status: 'revoked', checkpointed: [], committed: undefined },
  );
  assert.equal(world.committed, BATCH, 'no commit');
  assert.deepEqual(world.checkpoints, checkpointsBefore, 'no checkpoint');
  assert.equal(
    world.trace.filter((t) => t.startsWith('checkpoint')).length,
    2,
    'only the first batch wrote checkpoints',
  );
  assert.equal(first.store.size, 0, 'the revoked batch machines left this process memory');
  // The next owner takes over from the last commit.
  world.revoked = false;
  await consumeAll(world);
  assert.deepEqual(
    new Set(world.alerts().map((a) => a.alertId)),
    new Set(baseline.alerts().map((a) => a.alertId)),
  );
  assert.deepEqual(states(world), states(baseline));
});

test('a partition revoked after the checkpoint and before the commit: checkpointed, not committed, not re-alerted', async () => {
  const world = new World();
  const proc = new Process(world);
  world.revokeAt = 'checkpoint:after';
  const outcome = await proc.deliverOne();
  assert.deepEqual(
    { status: outcome.status, committed: outcome.committed, checkpointed: [...outcome.checkpointed].sort() },
    { status: 'revoked', committed: undefined, checkpointed: ['m-1', 'm-2'] },
  );
  assert.equal(world.committed, 0);
  world.revoked = false;
  const alertsBefore = world.alerts().length;
  const heir = new Process(world);
  await heir.deliverOne();
  assert.equal(world.alerts().length, alertsBefore, 'the redelivered batch raises nothing new');
  assert.equal(world.committed, BATCH);
});

test('a batch that starts after its partition was revoked or the consumer stopped does nothing', async () => {
  const world = new World();
  world.revoked = true;
  const outcome = await new Process(world).deliverOne();
  assert.equal(outcome.status, 'skipped');
  assert.deepEqual(world.trace, []);
});

test('a promoted model that cannot serve: the batch is not applied, not committed, and fetching pauses', async () => {
  const world = new World();
  const proc = new Process(world);
  world.modelUnusable = 'model v2 refused (incompatible)';
  const outcome = await proc.deliverOne();
  assert.equal(outcome.status, 'paused');
  assert.deepEqual(world.trace, ['pause']);
  assert.equal(proc.store.size, 0, 'no record applied');
  assert.equal(world.committed, 0);
  // When a model loads, the same records are delivered again and scored: no alert is lost.
  world.modelUnusable = undefined;
  await consumeAll(world);
  const baseline = new World();
  await consumeAll(baseline);
  assert.deepEqual(world.alerts(), baseline.alerts());
});

/** The alerts published from the `from`-th on, by the reading that triggered them. */
const alertsByReading = (world: World, from = 0) =>
  new Map(
    world
      .alerts()
      .slice(from)
      .map((a) => [`${a.machineId} ${a.ts}`, a]),
  );

/** Delivers batch 1, then batch 2 with `size` records, crashing after its sends and before its checkpoint. */
async function crashAfterSends(world: World, size = BATCH): Promise<Map<string, Alert>> {
  await new Process(world).deliverOne();
  const mark = world.alerts().length;
  world.crashNext('checkpoint:before');
  await assert.rejects(new Process(world).deliverOne(size), Crash);
  const first = alertsByReading(world, mark);
  assert.ok(first.size >= 2, `the crashed batch published alerts (${first.size})`);
  assert.ok(world.journalSize() > 0, 'its decisions were journaled before its sends');
  return first;
}

test('a redelivery after a crash between sends and checkpoint, with another version serving: the journaled decisions, the same alerts', async () => {
  const world = new World();
  const first = await crashAfterSends(world);
  const mark = world.alerts().length;
  world.serving = V2; // promoted before the redelivery; v2 judges these windows the other way
  const heir = new Process(world);
  await heir.deliverOne();
  assert.deepEqual(alertsByReading(world, mark), first, 'the same alerts (id, version, score), none other');
  assert.equal(
    await heir.counter('pdm_decisions_reused_total', {}),
    3,
    'three windows taken from the journal',
  );
  assert.equal(world.journalSize(), 0, 'the checkpoint removed the entries it covers');
  // What the journal prevents: v2 scoring the same records would have published other alerts.
  const unjournaled = new World();
  await new Process(unjournaled).deliverOne();
  const before = unjournaled.alerts().length;
  unjournaled.serving = V2;
  await new Process(unjournaled).deliverOne();
  const rescored = alertsByReading(unjournaled, before);
  assert.notDeepEqual(
    [...rescored.values()].map((a) => a.alertId).sort(),
    [...first.values()].map((a) => a.alertId).sort(),
  );
  // The records after the redelivered batch are scored by the serving version, as always.
  await consumeAll(world);
  assert.ok(
    world
      .alerts()
      .slice(mark + first.size)
      .every((a) => a.modelVersion === 'v2'),
  );
});

test('a redelivered batch shorter than the first: the rest of the journal survives its checkpoint and serves the next batch', async () => {
  const world = new World();
  const first = await crashAfterSends(world);
  world.serving = V2;
  const heir = new Process(world);
  const mark = world.alerts().length;
  await heir.deliverOne(2); // offsets 4 and 5 only: the m-1 window of offset 7 is not redelivered yet
  assert.equal(world.journalSize(), 1, 'the entry of offset 7, beyond the checkpoint applied offset, stays');
  await heir.deliverOne(); // offsets 6..9: offset 7 from the journal, 8 and 9 scored by v2
  const again = alertsByReading(world, mark);
  for (const [reading, alert] of first)
    assert.deepEqual(again.get(reading), alert, `${reading}: the same alert as the first delivery`);
  assert.equal(await heir.counter('pdm_decisions_reused_total', {}), 3);
  assert.equal(world.journalSize(), 0);
});

test('a redelivered batch longer than the first: the journaled windows are reused, the new ones scored and journaled', async () => {
  const world = new World();
  const first = await crashAfterSends(world, 2); // offsets 4 and 5
  world.serving = V2;
  const heir = new Process(world);
  const mark = world.alerts().length;
  world.crashNext('checkpoint:before');
  await assert.rejects(heir.deliverOne(), Crash); // offsets 4..7: 4 and 5 reused, 7 scored by v2 and journaled
  assert.equal(await heir.counter('pdm_decisions_reused_total', {}), 2);
  const second = alertsByReading(world, mark);
  for (const [reading, alert] of first) assert.deepEqual(second.get(reading), alert);
  assert.equal(world.journalSize(), 3, 'offset 7 joined the journal');
  const mark2 = world.alerts().length;
  world.serving = V1; // and back: the v2 decision of offset 7 still stands
  await new Process(world).deliverOne();
  assert.deepEqual(alertsByReading(world, mark2), second);
  assert.equal(world.journalSize(), 0);
});

test('a failed batch retried by the same process after a promotion: its machines and their journal are read again', async () => {
  const world = new World();
  const proc = new Process(world);
  await proc.deliverOne();
  const mark = world.alerts().length;
  world.crashNext('checkpoint:before');
  await assert.rejects(proc.deliverOne(), Crash);
  const first = alertsByReading(world, mark);
  world.serving = V2;
  const retried = world.alerts().length;
  assert.equal((await proc.deliverOne()).status, 'committed');
  assert.deepEqual(alertsByReading(world, retried), first);
  assert.equal(await proc.counter('pdm_decisions_reused_total', {}), 3);
});

test('records of another topic incarnation (a replay) are scored afresh: the journal of the old one is not theirs', async () => {
  const world = new World();
  const first = await crashAfterSends(world);
  world.serving = V2;
  const replay = new Process(world);
  const mark = world.alerts().length;
  await replay.deliverOne(BATCH, 'replayed');
  assert.equal(await replay.counter('pdm_decisions_reused_total', {}), 0);
  const rescored = alertsByReading(world, mark);
  assert.ok([...rescored.values()].every((a) => a.modelVersion === 'v2'));
  assert.notDeepEqual(rescored, first);
  assert.equal(world.journalSize(), 0, 'entries of another place go with the next checkpoint');
});

test('a log that arrives between the crash and the redelivery (the join gave up waiting): the journaled decisions still stand', async () => {
  const world = new World();
  world.serving = V1_LOGS;
  const first = await crashAfterSends(world);
  // The logs of the redelivered windows arrive now; the logs batch restores the machines (and their journal).
  const heir = new Process(world);
  assert.equal((await heir.deliverLogs(T0 + 1.5 * HOUR, 0)).status, 'committed');
  assert.ok(world.journalSize() > 0, 'the logs checkpoint left the readings entries beyond its bookmark');
  const mark = world.alerts().length;
  await heir.deliverOne();
  // The same decisions; only `explain` shows the words the redelivered window now holds.
  const decisions = (alerts: Map<string, Alert>) =>
    [...alerts].map(([reading, { alertId, state, modelVersion }]) => ({
      reading,
      alertId,
      state,
      modelVersion,
    }));
  assert.deepEqual(decisions(alertsByReading(world, mark)), decisions(first));
  assert.equal(await heir.counter('pdm_decisions_reused_total', {}), 3);
  // Without the journal, the same records with that log would have decided otherwise.
  const unjournaled = new World();
  unjournaled.serving = V1_LOGS;
  const proc = new Process(unjournaled);
  await proc.deliverOne();
  await proc.deliverLogs(T0 + 1.5 * HOUR, 0);
  const before = unjournaled.alerts().length;
  await proc.deliverOne();
  assert.notDeepEqual(decisions(alertsByReading(unjournaled, before)), decisions(first));
});
