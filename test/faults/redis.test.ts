import assert from 'node:assert/strict';
import { test } from 'node:test';
import { registerKnownModel } from '../known-model';
import {
  Bench,
  faultEnv,
  killStrays,
  pauseDaemon,
  redisPid,
  report,
  resumeDaemon,
  seconds,
  SKIP,
  sleep,
  WorkerProc,
} from './harness';
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
const SPEC = { machines: 200, steps: 60, t0: Date.parse('2025-11-01T00:00:00Z'), stepMs: H, seed: 13 };
const RATE = 150;
const THRESHOLD = 0.52;
const OUTAGE_MS = 30_000;

test(
  'Redis frozen for 30 s (SIGSTOP) mid-stream: no worker crashes, no alert lost after it resumes',
  { skip: SKIP, timeout: 7 * 60_000 },
  async (t) => {
    killStrays();
    const f = faultEnv('redis');
    const bench = new Bench(f);
    const workers = [new WorkerProc('a', f.env, 'redis'), new WorkerProc('b', f.env, 'redis')];
    let paused: number | undefined;
    t.after(async () => {
      if (paused !== undefined) resumeDaemon(paused);
      await Promise.all(workers.map((w) => w.stop(5_000)));
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

    for (const w of workers) w.supervise = true; // a crash is a failure here, but the run still completes to measure it
    await Promise.all(workers.map((w) => w.start()));
    assert.deepEqual(
      await Promise.all(workers.map((w) => w.waitReady(90_000))),
      [true, true],
      'both workers ready',
    );

    let progress = 0;
    let streamDone = false;
    const streaming = bench
      .stream(
        f.config.topics.readings,
        readings.map(readingMessage),
        RATE,
        (sent) => (progress = sent / readings.length),
      )
      .finally(() => (streamDone = true));
    while (progress < 0.2) await sleep(100);

    const pid = redisPid();
    const pausedAtProgress = Math.round(progress * 100);
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
    const midStream = !streamDone;
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
    const streamed = await streaming;
    const drainMs = await bench.waitLagZero(180_000);

    const alerts = (await bench.readAll<ObservedAlert>(f.config.topics.alerts)).map((m) => m.value!);
    const result = checkAlerts(expected, alerts);
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
        notes: `${readings.length} readings at ${RATE}/s, paused at ${pausedAtProgress}%; /healthz 200 in ${healthyProbes}/${probes} probes during the outage; offsets committed during the outage: ${committedDuring}; worker exits ${crashes.length}; ${result.expected} expected alerts; recovery = SIGCONT → group commits again; drain ${seconds(drainMs)} s`,
      },
    ]);
    assert.ok(midStream, 'Redis was frozen mid-stream');
    assert.deepEqual(crashes, [], 'no worker crashed');
    assert.ok(progressMs !== undefined, 'the group commits again after Redis resumes');
    assertNoLostOrExtraAlerts(result);
  },
);
