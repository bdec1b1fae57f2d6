import assert from 'node:assert/strict';
import { test } from 'node:test';
import { registerKnownModel } from '../known-model';
import { Bench, faultEnv, killStrays, report, seconds, SKIP, sleep, WorkerProc } from './harness';
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
const SPEC = { machines: 200, steps: 100, t0: Date.parse('2025-06-01T00:00:00Z'), stepMs: H, seed: 9 };
const RATE = 150; // readings/s: 20k readings take ~135 s, long enough for three kills and their rebalances
const THRESHOLD = 0.52;

test(
  'kill -9 of a worker process, three times mid-stream: every expected alert is published, none extra',
  { skip: SKIP, timeout: 9 * 60_000 },
  async (t) => {
    killStrays();
    const f = faultEnv('k9');
    const bench = new Bench(f);
    const workers = [new WorkerProc('a', f.env, 'kill9'), new WorkerProc('b', f.env, 'kill9')];
    t.after(async () => {
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

    await Promise.all(workers.map((w) => w.start()));
    const ready = await Promise.all(workers.map((w) => w.waitReady(90_000)));
    assert.deepEqual(ready, [true, true], 'both workers ready');

    let streamDone = false;
    let progress = 0;
    const streaming = bench
      .stream(
        f.config.topics.readings,
        readings.map(readingMessage),
        RATE,
        (sent) => (progress = sent / readings.length),
      )
      .finally(() => (streamDone = true));

    // Three kills, alternating victims, each at the next progress mark once the group has recovered from the last.
    const kills: { victim: string; atProgress: number; midStream: boolean; recoveryMs: number }[] = [];
    for (const [i, mark] of [0.12, 0.4, 0.68].entries()) {
      while (progress < mark && !streamDone) await sleep(100);
      const victim = workers[i % 2]!;
      const at = Date.now();
      const midStream = !streamDone;
      const atProgress = Math.round(progress * 100) / 100;
      victim.kill('SIGKILL');
      assert.ok(await victim.waitExit(5_000), `${victim.name} died`);
      await victim.start();
      const back = await Promise.all(workers.map((w) => w.waitReady(120_000)));
      assert.deepEqual(back, [true, true], `group ready again after killing ${victim.name}`);
      kills.push({ victim: victim.name, atProgress, midStream, recoveryMs: Date.now() - at });
    }
    const streamed = await streaming;
    const drainMs = await bench.waitLagZero(180_000);

    const alerts = (await bench.readAll<ObservedAlert>(f.config.topics.alerts)).map((m) => m.value!);
    const result = checkAlerts(expected, alerts);
    const crashes = workers.flatMap((w) => w.crashes);
    console.log(JSON.stringify({ test: 'kill9', streamed, kills, drainMs, result, crashes }));
    report([
      {
        test: 'kill9',
        fault: 'kill -9 worker (x3)',
        injected: kills.length,
        missing: result.missing,
        extra: result.extra,
        duplicated: result.duplicates,
        recoverySeconds: seconds(Math.max(...kills.map((k) => k.recoveryMs))),
        pass: result.missing === 0 && result.extra === 0 && crashes.length === 0,
        notes: `${readings.length} readings/${SPEC.machines} machines at ${RATE}/s; ${result.expected} expected alerts, ${result.distinct} distinct seen; kills at ${kills.map((k) => `${k.atProgress * 100}%${k.midStream ? '' : '(after stream)'}`).join(', ')}; recovery per kill ${kills.map((k) => seconds(k.recoveryMs)).join('/')} s (kill → both /readyz 200); drain ${seconds(drainMs)} s`,
      },
    ]);
    assert.equal(crashes.length, 0, `unexpected worker exits: ${JSON.stringify(crashes)}`);
    assert.ok(
      kills.every((k) => k.midStream),
      'every kill landed mid-stream',
    );
    assertNoLostOrExtraAlerts(result);
  },
);
