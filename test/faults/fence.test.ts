/**
 * Issue 12 finding 4, with real workers: one worker is frozen (SIGSTOP) mid-stream for longer than its
 * session timeout, so its partitions move and the other worker checkpoints and commits past it; then it
 * is released and finishes whatever batch it was in (its produce completes, its checkpoint write comes
 * late). Checked: no machine's applied offset ever decreases (sampled from the fences in Redis throughout),
 * no alert is missing or extra against the oracle, and the stale writes were refused and counted.
 */
import assert from 'node:assert/strict';
import { faultTest, KNOWN_THRESHOLD, metricSum, ReadingStream, report, seconds, sleep } from './harness';
import { FenceSampler } from './fences';
import { assertNoLostOrExtraAlerts, checkAlerts, hourlyFleet } from './oracle';

const SPEC = hourlyFleet('2025-08-01T00:00:00Z', 60, 41, 100);
const SESSION_MS = 8_000;

faultTest(
  'a worker frozen past its session timeout mid-batch: its late checkpoints never move applied back, alerts exact',
  { minutes: 6, name: 'fence', env: { PDM_KAFKA_SESSION_TIMEOUT: `${SESSION_MS}ms` } },
  async ({ bench, config, workers, knownRun, startWorkers, alerts }) => {
    const [a, b] = workers as [(typeof workers)[0], (typeof workers)[0]];
    const { readings, expected } = await knownRun(SPEC, KNOWN_THRESHOLD);
    await startWorkers();
    const fences = new FenceSampler(bench.redis, config.redis.prefix);
    const stream = new ReadingStream(bench, readings, 300);
    await stream.reach(0.3);
    const frozenAt = Date.now();
    process.kill(a.pid!, 'SIGSTOP');
    await sleep(SESSION_MS + 7_000); // past the session timeout: b takes a's partitions and commits past a
    process.kill(a.pid!, 'SIGCONT');
    const released = Date.now();
    await stream.finished;
    const drainMs = await bench.waitLagZero(180_000);
    await fences.stop();
    const refused = metricSum(await a.metrics(), 'pdm_checkpoint_refused_total');
    const result = checkAlerts(expected, await alerts());
    const crashes = workers.flatMap((w) => w.crashes);
    report([
      {
        test: 'fence',
        fault: `worker frozen ${seconds(released - frozenAt)} s (session ${SESSION_MS / 1000} s) mid-stream`,
        injected: 1,
        missing: result.missing,
        extra: result.extra,
        duplicated: result.duplicates,
        recoverySeconds: seconds(drainMs),
        pass: result.missing === 0 && result.extra === 0 && fences.decreases === 0,
        notes: `${readings.length} readings/${SPEC.machines} machines at 300/s; ${result.expected} expected alerts; stale checkpoint writes refused ${refused}; applied decreases seen in ${fences.bookmarks} fences sampled every 200 ms: ${fences.decreases}; b ${b.alive ? 'up' : 'down'}`,
      },
    ]);
    assert.equal(crashes.length, 0, `unexpected exits: ${JSON.stringify(crashes)}`);
    assert.equal(fences.decreases, 0, 'no applied offset ever went back');
    assertNoLostOrExtraAlerts(result);
  },
);
