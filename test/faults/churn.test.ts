import assert from 'node:assert/strict';
import { faultTest, KNOWN_THRESHOLD, ReadingStream, report, seconds, sleep, STREAM_RATE } from './harness';
import type { ExitRecord } from './harness';
import { assertNoLostOrExtraAlerts, checkAlerts, hourlyFleet } from './oracle';

const SPEC = hourlyFleet('2025-12-01T00:00:00Z', 60, 17);
// At STREAM_RATE the 12k readings take ~80 s, covering the minute of churn.
const CHURN_MS = 60_000;
const HOLD_MS = 3_000;
const PAUSE_MS = 2_000;

/**
 * Group-membership churn: a third worker joins and leaves (SIGTERM, graceful drain) every few seconds for a
 * minute, so partitions move between the three workers over and over while readings flow.
 * Not checked here: "no commit for a partition the worker no longer owns" — that needs the worker's own
 * commit log; the end-to-end checks (lag 0, every alert exactly as expected) would catch its consequences.
 */
faultTest(
  'a third worker joins and leaves every few seconds for a minute while streaming: no alert lost, none extra',
  { minutes: 7, name: 'churn', workers: ['a', 'b', 'c'] },
  async ({ bench, workers, knownRun, startWorkers, alerts }) => {
    const steady = workers.slice(0, 2);
    const churner = workers[2]!;
    const { readings, expected } = await knownRun(SPEC, KNOWN_THRESHOLD);
    await startWorkers(steady);

    const stream = new ReadingStream(bench, readings, STREAM_RATE);
    const cycles: {
      joinMs: number | null;
      leaveMs: number;
      exit: ExitRecord | undefined;
      midStream: boolean;
    }[] = [];
    const churnStarted = Date.now();
    while (Date.now() - churnStarted < CHURN_MS) {
      const started = Date.now();
      await churner.start();
      const joined = await churner.waitReady(30_000);
      const joinMs = joined ? Date.now() - started : null;
      await sleep(HOLD_MS);
      const leaving = Date.now();
      const exit = await churner.stop(25_000);
      cycles.push({ joinMs, leaveMs: Date.now() - leaving, exit, midStream: !stream.done });
      await sleep(PAUSE_MS);
    }
    const streamed = await stream.finished;
    const drainMs = await bench.waitLagZero(180_000);

    const result = checkAlerts(expected, await alerts());
    const crashes = steady.flatMap((w) => w.crashes.map((e) => ({ worker: w.name, ...e })));
    const unclean = cycles.filter((c) => c.exit?.code !== 0);
    const joins = cycles.map((c) => c.joinMs).filter((ms): ms is number => ms !== null);
    console.log(JSON.stringify({ test: 'churn', streamed, cycles, drainMs, crashes, result }));
    report([
      {
        test: 'churn',
        fault: 'worker join/leave churn (60 s)',
        injected: cycles.length,
        missing: result.missing,
        extra: result.extra,
        duplicated: result.duplicates,
        recoverySeconds: joins.length ? seconds(Math.max(...joins)) : null,
        pass:
          result.missing === 0 &&
          result.extra === 0 &&
          crashes.length === 0 &&
          unclean.length === 0 &&
          joins.length === cycles.length,
        notes: `${readings.length} readings at ${STREAM_RATE}/s; ${cycles.length} join+leave cycles (${cycles.filter((c) => c.midStream).length} mid-stream); graceful leaves exit 0: ${cycles.length - unclean.length}/${cycles.length}, longest leave ${seconds(Math.max(...cycles.map((c) => c.leaveMs)))} s; ${result.expected} expected alerts; recovery = longest start → /readyz 200 of the joiner; drain ${seconds(drainMs)} s; commits for unassigned partitions: not checked`,
      },
    ]);
    assert.deepEqual(crashes, [], 'steady workers never exited');
    assert.deepEqual(
      unclean.map((c) => c.exit),
      [],
      'every graceful leave exits 0',
    );
    assert.equal(joins.length, cycles.length, 'the joiner became ready in every cycle');
    assertNoLostOrExtraAlerts(result);
  },
);
