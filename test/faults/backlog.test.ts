import assert from 'node:assert/strict';
import { faultTest, KNOWN_THRESHOLD, metricSum, report, seconds, sleep } from './harness';
import type { WorkerProc } from './harness';
import { assertNoLostOrExtraAlerts, checkAlerts, hourlyFleet, readingMessage } from './oracle';

/** 200 machines × 1,000 hourly readings: the 200k-reading backlog of issue 12, finding 6. */
const SPEC = hourlyFleet('2025-10-01T00:00:00Z', 1_000, 17, 200);
const WORDS = ['bearing', 'noise', 'replaced', 'filter', 'inspection', 'routine', 'vibration', 'oil', 'leak'];

const assignments = (w: WorkerProc) =>
  w
    .logText()
    .split('\n')
    .filter((l) => l.includes('partitions assigned')).length;

/**
 * Issue 12, finding 6, with real worker processes: a large backlog, a log every 3 readings (text encodings
 * that miss the cache), 8 partitions, two workers reading from the earliest offset with a 30 s session. A
 * batch that held the event loop for its whole length would miss heartbeats and make the group rebalance
 * mid-backlog; the batches are scored in slices that yield and heartbeat instead.
 */
faultTest(
  'a 200k-reading backlog with a log every 3 readings, 8 partitions, two workers from earliest: no rebalance after the join, event-loop delay p99 < 1 s, alerts exact and no duplicate',
  { minutes: 8, name: 'backlog', partitions: 8, env: { PDM_KAFKA_SESSION_TIMEOUT: '30s' } },
  async ({ bench, config, workers, knownRun, startWorkers, alerts }) => {
    const { readings, expected } = await knownRun(SPEC, KNOWN_THRESHOLD);
    const logs = readings
      .filter((_, i) => i % 3 === 0)
      .map((r, i) => ({
        key: r.machineId,
        value: JSON.stringify({
          machineId: r.machineId,
          ts: new Date(r.ts).toISOString(),
          text: `${WORDS[i % WORDS.length]} ${WORDS[(i * 7) % WORDS.length]} check ${i % 97}`,
        }),
      }));
    for (let i = 0; i < logs.length; i += 2_000)
      await bench.sendReliably(config.topics.logs, logs.slice(i, i + 2_000));
    for (let i = 0; i < readings.length; i += 2_000)
      await bench.sendReliably(config.topics.readings, readings.slice(i, i + 2_000).map(readingMessage));

    const started = Date.now();
    await startWorkers();
    // The join: both members in a stable group. Every assignment after this point is a rebalance.
    for (let t = 0; t < 120; t++) {
      const { groups } = await bench.admin.describeGroups([config.kafka.groupId]);
      if (groups[0]?.state === 'Stable' && groups[0].members.length === 2) break;
      await sleep(500);
    }
    const joined = workers.map(assignments);
    const lagAtJoin = await bench.groupLag();
    let loopP99 = 0;
    const sampler = setInterval(() => {
      for (const w of workers)
        void w.metrics().then((text) => {
          loopP99 = Math.max(loopP99, metricSum(text, 'nodejs_eventloop_lag_p99_seconds'));
        });
    }, 1_000);
    let drainMs: number;
    try {
      drainMs = await bench.waitLagZero(360_000);
    } finally {
      clearInterval(sampler);
    }
    const rebalances = workers.map((w, i) => assignments(w) - joined[i]!);
    const result = checkAlerts(expected, await alerts());
    const crashes = workers.flatMap((w) => w.crashes);
    report([
      {
        test: 'backlog',
        fault: '200k-reading backlog + a log every 3 readings, 8 partitions, 2 workers from earliest',
        injected: readings.length + logs.length,
        missing: result.missing,
        extra: result.extra,
        duplicated: result.duplicates,
        recoverySeconds: seconds(Date.now() - started),
        pass:
          rebalances.every((n) => n === 0) &&
          loopP99 < 1 &&
          result.missing === 0 &&
          result.extra === 0 &&
          result.duplicates === 0 &&
          crashes.length === 0,
        notes: `${readings.length} readings + ${logs.length} logs/${SPEC.machines} machines; ${result.expected} expected alerts; assignments after the join ${rebalances.join('/')}; max event-loop delay p99 ${loopP99.toFixed(3)} s; lag at the join ${lagAtJoin} records, drained in ${seconds(drainMs)} s after it`,
      },
    ]);
    assert.equal(crashes.length, 0, `unexpected exits: ${JSON.stringify(crashes)}`);
    assert.deepEqual(rebalances, [0, 0], 'no rebalance after the join');
    assert.ok(loopP99 < 1, `event-loop delay p99 ${loopP99} s`);
    assertNoLostOrExtraAlerts(result);
    assert.equal(result.duplicates, 0, 'no duplicate alertId');
  },
);
