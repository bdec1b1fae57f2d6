import assert from 'node:assert/strict';
import { faultTest, KNOWN_THRESHOLD, ReadingStream, report, seconds, STREAM_RATE } from './harness';
import { assertNoLostOrExtraAlerts, checkAlerts, hourlyFleet } from './oracle';

const SPEC = hourlyFleet('2025-06-01T00:00:00Z', 100, 9);
// At STREAM_RATE the 20k readings take ~135 s, long enough for three kills and their rebalances.

faultTest(
  'kill -9 of a worker process, three times mid-stream: every expected alert is published, none extra',
  { minutes: 9, name: 'kill9' },
  async ({ bench, workers, knownRun, startWorkers, alerts }) => {
    const { readings, expected } = await knownRun(SPEC, KNOWN_THRESHOLD);
    await startWorkers();

    const stream = new ReadingStream(bench, readings, STREAM_RATE);

    // Three kills, alternating victims, each at the next progress mark once the group has recovered from the last.
    const kills: { victim: string; atProgress: number; midStream: boolean; recoveryMs: number }[] = [];
    for (const [i, mark] of [0.12, 0.4, 0.68].entries()) {
      await stream.reach(mark);
      const victim = workers[i % 2]!;
      const at = Date.now();
      const midStream = !stream.done;
      const atProgress = Math.round(stream.progress * 100) / 100;
      victim.kill('SIGKILL');
      assert.ok(await victim.waitExit(5_000), `${victim.name} died`);
      await victim.start();
      const back = await Promise.all(workers.map((w) => w.waitReady(120_000)));
      assert.ok(back.every(Boolean), `group ready again after killing ${victim.name}`);
      kills.push({ victim: victim.name, atProgress, midStream, recoveryMs: Date.now() - at });
    }
    const streamed = await stream.finished;
    const drainMs = await bench.waitLagZero(180_000);

    const result = checkAlerts(expected, await alerts());
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
        notes: `${readings.length} readings/${SPEC.machines} machines at ${STREAM_RATE}/s; ${result.expected} expected alerts, ${result.distinct} distinct seen; kills at ${kills.map((k) => `${k.atProgress * 100}%${k.midStream ? '' : '(after stream)'}`).join(', ')}; recovery per kill ${kills.map((k) => seconds(k.recoveryMs)).join('/')} s (kill → both /readyz 200); drain ${seconds(drainMs)} s`,
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
