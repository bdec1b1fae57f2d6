import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  faultScenario,
  KNOWN_THRESHOLD,
  pauseDaemon,
  ReadingStream,
  redisPid,
  report,
  resumeDaemon,
  seconds,
  SKIP,
  sleep,
  STREAM_RATE,
} from './harness';
import { assertNoLostOrExtraAlerts, checkAlerts, hourlyFleet } from './oracle';

const SPEC = hourlyFleet('2025-11-01T00:00:00Z', 60, 13);
const OUTAGE_MS = 30_000;

test(
  'Redis frozen for 30 s (SIGSTOP) mid-stream: no worker crashes, no alert lost after it resumes',
  { skip: SKIP, timeout: 7 * 60_000 },
  async (t) => {
    let paused: number | undefined;
    const { bench, workers, knownRun, startWorkers, alerts } = await faultScenario(t, {
      name: 'redis',
      beforeCleanup: () => {
        if (paused !== undefined) resumeDaemon(paused);
      },
    });
    const { readings, expected } = await knownRun(SPEC, KNOWN_THRESHOLD);
    for (const w of workers) w.supervise = true; // a crash is a failure here, but the run still completes to measure it
    await startWorkers();

    const stream = new ReadingStream(bench, readings, STREAM_RATE);
    await stream.reach(0.2);

    const pid = redisPid();
    const pausedAtProgress = Math.round(stream.progress * 100);
    const pausedAt = Date.now();
    pauseDaemon(pid);
    paused = pid;
    // During the outage: the processes stay alive; is the group still committing (it should not: checkpoints come first)?
    let healthyProbes = 0;
    let probes = 0;
    let committedDuring = 0;
    const committedAtPause = await bench.committedSum();
    while (Date.now() - pausedAt < OUTAGE_MS) {
      const health = await Promise.all(workers.map((w) => w.get('/healthz')));
      probes += health.length;
      healthyProbes += health.filter((h) => h?.status === 200).length;
      await sleep(1_000);
    }
    committedDuring = (await bench.committedSum()) - committedAtPause;
    const midStream = !stream.done;
    resumeDaemon(pid);
    paused = undefined;
    const resumedAt = Date.now();
    const committedAtResume = await bench.committedSum();
    let progressMs: number | undefined;
    while (Date.now() - resumedAt < 120_000) {
      if ((await bench.committedSum()) > committedAtResume) {
        progressMs = Date.now() - resumedAt;
        break;
      }
      await sleep(200);
    }
    const streamed = await stream.finished;
    const drainMs = await bench.waitLagZero(180_000);

    const result = checkAlerts(expected, await alerts());
    const crashes = workers.flatMap((w) => w.crashes.map((e) => ({ worker: w.name, ...e })));
    console.log(
      JSON.stringify({
        test: 'redis',
        streamed,
        pausedAtProgress,
        healthyProbes,
        probes,
        committedDuring,
        progressMs,
        drainMs,
        crashes,
        result,
      }),
    );
    report([
      {
        test: 'redis',
        fault: 'Redis SIGSTOP 30 s',
        injected: 1,
        missing: result.missing,
        extra: result.extra,
        duplicated: result.duplicates,
        recoverySeconds: progressMs === undefined ? null : seconds(progressMs),
        pass: result.missing === 0 && result.extra === 0 && crashes.length === 0 && progressMs !== undefined,
        notes: `${readings.length} readings at ${STREAM_RATE}/s, paused at ${pausedAtProgress}%; /healthz 200 in ${healthyProbes}/${probes} probes during the outage; offsets committed during the outage: ${committedDuring}; worker exits ${crashes.length}; ${result.expected} expected alerts; recovery = SIGCONT → group commits again; drain ${seconds(drainMs)} s`,
      },
    ]);
    assert.ok(midStream, 'Redis was frozen mid-stream');
    assert.deepEqual(crashes, [], 'no worker crashed');
    assert.ok(progressMs !== undefined, 'the group commits again after Redis resumes');
    assertNoLostOrExtraAlerts(result);
  },
);
