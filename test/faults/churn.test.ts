import assert from 'node:assert/strict';
import { test } from 'node:test';
import { registerKnownModel } from '../known-model';
import { Bench, faultEnv, killStrays, report, seconds, SKIP, sleep, WorkerProc } from './harness';
import type { ExitRecord } from './harness';
import {
  assertSeparated,
  checkAlerts,
  expectedAlerts,
  generateReadings,
  readingMessage,
  assertNoLostOrExtraAlerts,
} from './oracle';
import type { ObservedAlert } from './oracle';

const H = 3_600_000;
const SPEC = { machines: 200, steps: 60, t0: Date.parse('2025-12-01T00:00:00Z'), stepMs: H, seed: 17 };
const RATE = 150; // 12k readings: ~80 s, covering the minute of churn
const THRESHOLD = 0.52;
const CHURN_MS = 60_000;
const HOLD_MS = 3_000;
const PAUSE_MS = 2_000;

/**
 * Group-membership churn: a third worker joins and leaves (SIGTERM, graceful drain) every few seconds for a
 * minute, so partitions move between the three workers over and over while readings flow.
 * Not checked here: "no commit for a partition the worker no longer owns" — that needs the worker's own
 * commit log; the end-to-end checks (lag 0, every alert exactly as expected) would catch its consequences.
 */
test(
  'a third worker joins and leaves every few seconds for a minute while streaming: no alert lost, none extra',
  { skip: SKIP, timeout: 7 * 60_000 },
  async (t) => {
    killStrays();
    const f = faultEnv('churn');
    const bench = new Bench(f);
    const steady = [new WorkerProc('a', f.env, 'churn'), new WorkerProc('b', f.env, 'churn')];
    const churner = new WorkerProc('c', f.env, 'churn');
    t.after(async () => {
      await Promise.all([...steady, churner].map((w) => w.stop(5_000)));
      await bench.close();
    });
    await bench.open(6);
    const meta = await registerKnownModel(bench.redis, f.config, { threshold: THRESHOLD });
    const readings = generateReadings(SPEC);
    assertSeparated(readings, [THRESHOLD], f.config.alerts.hysteresis);
    const expected = expectedAlerts(readings, f.config.model.window, f.config.alerts, () => ({
      version: meta.version,
      threshold: THRESHOLD,
    }));

    await Promise.all(steady.map((w) => w.start()));
    assert.deepEqual(
      await Promise.all(steady.map((w) => w.waitReady(90_000))),
      [true, true],
      'steady workers ready',
    );

    let streamDone = false;
    const streaming = bench
      .stream(f.config.topics.readings, readings.map(readingMessage), RATE)
      .finally(() => (streamDone = true));
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
      cycles.push({ joinMs, leaveMs: Date.now() - leaving, exit, midStream: !streamDone });
      await sleep(PAUSE_MS);
    }
    const streamed = await streaming;
    const drainMs = await bench.waitLagZero(180_000);

    const alerts = (await bench.readAll<ObservedAlert>(f.config.topics.alerts)).map((m) => m.value!);
    const result = checkAlerts(expected, alerts);
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
        notes: `${readings.length} readings at ${RATE}/s; ${cycles.length} join+leave cycles (${cycles.filter((c) => c.midStream).length} mid-stream); graceful leaves exit 0: ${cycles.length - unclean.length}/${cycles.length}, longest leave ${seconds(Math.max(...cycles.map((c) => c.leaveMs)))} s; ${result.expected} expected alerts; recovery = longest start → /readyz 200 of the joiner; drain ${seconds(drainMs)} s; commits for unassigned partitions: not checked`,
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
