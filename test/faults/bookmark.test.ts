/**
 * Issue 12 finding 3: the idempotence bookmark names topic, partition and topic incarnation. Before, it was
 * an offset alone, and records at or below a machine's old offset in another partition or a recreated topic
 * were dropped as `redelivered`: their alerts never existed. Here, with real workers, broker and Redis:
 * partitions added mid-stream; then topics recreated under a continuing stream; then `pdm replay`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createTopics } from '../../src/kafka/topics';
import type { Scenario } from './harness';
import { faultTest, KNOWN_THRESHOLD, metricSum, report, ROOT, seconds, sleep, STREAM_RATE } from './harness';
import {
  assertNoLostOrExtraAlerts,
  checkAlerts,
  expectedAlerts,
  hourlyFleet,
  readingMessage,
} from './oracle';
import type { ExpectedAlert, Reading } from './oracle';

async function redelivered(s: Scenario): Promise<number> {
  let n = 0;
  for (const w of s.workers)
    if (w.alive) n += metricSum(await w.metrics(), 'pdm_records_dropped_total', { reason: 'redelivered' });
  return n;
}

/** Sends `readings` with a producer of its own (fresh metadata: it sees partitions added meanwhile). */
async function produce(s: Scenario, readings: readonly Reading[]): Promise<void> {
  const producer = s.bench.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (let i = 0; i < readings.length; i += STREAM_RATE) {
      await producer.send({
        topic: s.config.topics.readings,
        messages: readings.slice(i, i + STREAM_RATE).map(readingMessage),
        acks: -1,
      });
      await sleep(1_000); // paced: the workers consume while the stream goes on
    }
  } finally {
    await producer.disconnect();
  }
}

function pdm(s: Scenario, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'pdm.js'), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...s.f.env, PDM_LOG_LEVEL: 'warn' },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

faultTest(
  'partitions added mid-stream: no record is dropped as redelivered, no alert is missing',
  { minutes: 6, name: 'addparts', partitions: 2 },
  async (s) => {
    const spec = hourlyFleet('2025-03-01T00:00:00Z', 40, 31, 60);
    const { readings, expected } = await s.knownRun(spec, KNOWN_THRESHOLD);
    await s.startWorkers();
    const half = readings.length / 2;
    await produce(s, readings.slice(0, half));
    await s.bench.waitLagZero(120_000);
    const t = s.config.topics;
    const at = Date.now();
    // Co-partitioned topics grow together. A machine's later records land on another partition, at offsets
    // below those its bookmark holds from the old one.
    await s.bench.admin.createPartitions({
      topicPartitions: [
        { topic: t.readings, count: 6 },
        { topic: t.logs, count: 6 },
      ],
    });
    await produce(s, readings.slice(half));
    const drainMs = await s.bench.waitLagZero(180_000);
    const result = checkAlerts(expected, await s.alerts());
    const dropped = await redelivered(s);
    const crashes = s.workers.flatMap((w) => w.crashes);
    report([
      {
        test: 'addparts',
        fault: 'partitions 2 → 6 mid-stream',
        injected: 1,
        missing: result.missing,
        extra: result.extra,
        duplicated: result.duplicates,
        recoverySeconds: seconds(Date.now() - at),
        pass: result.missing === 0 && result.extra === 0 && dropped === 0 && crashes.length === 0,
        notes: `${readings.length} readings/${spec.machines} machines; ${result.expected} expected alerts; redelivered drops ${dropped}; drain after the second half ${seconds(drainMs)} s (new partitions noticed within the 30 s metadata age)`,
      },
    ]);
    assert.equal(crashes.length, 0);
    assert.equal(dropped, 0, 'no record was dropped as redelivered');
    assertNoLostOrExtraAlerts(result);
  },
);

faultTest(
  'topics recreated under a continuing stream, then `pdm replay`: nothing dropped as redelivered, no alert missing',
  { minutes: 7, name: 'recreate', partitions: 3, workers: ['a'] },
  async (s) => {
    const spec = hourlyFleet('2025-04-01T00:00:00Z', 30, 37, 40);
    const { readings, version, expected } = await s.knownRun(spec, KNOWN_THRESHOLD);
    const cut = spec.machines * 20; // steps 0..19 before the recreation, 20..29 after
    await s.startWorkers();
    await produce(s, readings.slice(0, cut));
    await s.bench.waitLagZero(120_000);
    const [worker] = s.workers;
    await worker!.stop();
    const t = s.config.topics;
    // Recreated (say, to change their configuration): the group's offsets go with them, and the new topics'
    // offsets start at 0, below every machine's bookmark.
    await s.bench.admin.deleteTopics({ topics: [t.readings, t.logs] });
    for (let i = 0; ; i++) {
      try {
        await createTopics(s.config, { partitions: 3, replication: 1 });
        const meta = await s.bench.admin.fetchTopicMetadata({ topics: [t.readings, t.logs] });
        if (meta.topics.every((m) => m.partitions.length === 3)) break;
      } catch (error) {
        if (i > 60) throw error; // deletion still in progress: retry
      }
      await sleep(500);
    }
    const continued = readings.slice(cut);
    await produce(s, continued);
    await worker!.start();
    await s.bench.waitLagZero(120_000);
    const afterRecreate = checkAlerts(expected, await s.alerts());
    const droppedRecreate = await redelivered(s);

    // Replay the new topics from their beginning: refused while the worker runs, then done.
    const refused = pdm(s, 'replay', '--from', String(spec.t0));
    assert.equal(refused.status, 3, `replay with a running worker is refused: ${refused.stderr}`);
    await worker!.stop();
    const replay = pdm(s, 'replay', '--from', new Date(spec.t0).toISOString());
    assert.equal(replay.status, 0, replay.stderr);
    const plan = JSON.parse(replay.stdout) as {
      checkpoints: number;
      offsets: Record<string, { offset: string }[]>;
      modelVersion: string;
    };
    assert.equal(plan.modelVersion, version);
    assert.equal(plan.checkpoints, spec.machines, 'every machine state reset');
    assert.ok(plan.offsets[t.readings]!.every((p) => p.offset === '0'));
    const replayStarted = Date.now();
    await worker!.start();
    await s.bench.waitLagZero(120_000);
    // The replay rebuilds each machine from the continued records alone (the history before the
    // recreation is gone): what it must publish is the oracle over those records.
    const expectedReplay = expectedAlerts(continued, s.config.model.window, s.config.alerts, () => ({
      version,
      threshold: KNOWN_THRESHOLD,
    }));
    const observed = await s.alerts();
    const afterReplay = checkAlerts(expectedReplay, observed);
    const union = new Map<string, ExpectedAlert>([...expected, ...expectedReplay]);
    const overall = checkAlerts(union, observed);
    const droppedReplay = await redelivered(s);
    const reused = [...expectedReplay.values()].filter((e) =>
      [...expected.values()].some((x) => x.alertId === e.alertId),
    ).length;
    report([
      {
        test: 'recreate',
        fault: 'topics recreated, then pdm replay',
        injected: 2,
        missing: afterRecreate.missing + afterReplay.missing,
        extra: overall.extra,
        duplicated: overall.duplicates,
        recoverySeconds: seconds(Date.now() - replayStarted),
        pass:
          afterRecreate.missing + afterReplay.missing + overall.extra + droppedRecreate + droppedReplay === 0,
        notes: `${cut} readings before the recreation, ${continued.length} after; ${afterRecreate.expected} alerts expected over both, ${afterReplay.expected} from the replay (${reused} with the id already published); redelivered drops ${droppedRecreate}/${droppedReplay}`,
      },
    ]);
    assert.equal(droppedRecreate, 0, 'nothing dropped as redelivered after the recreation');
    assert.equal(droppedReplay, 0, 'nothing dropped as redelivered in the replay');
    assertNoLostOrExtraAlerts(afterRecreate);
    assert.equal(afterReplay.missing, 0, 'every alert of the replay published');
    assert.equal(overall.extra, 0, 'no alert outside the two oracles');
  },
);
