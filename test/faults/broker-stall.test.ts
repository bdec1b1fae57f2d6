/**
 * Issue 12 finding 4 as written: only one worker's *broker* traffic stalls, in the middle of a send, for longer
 * than its session timeout; its Redis traffic and its event loop go on. Worker a reaches the broker through a
 * TCP relay (the local broker's relayed listener, src/stack/kafka.ts); the relay freezes both directions the
 * moment a sends a Produce request, so a is stuck in that send while b takes its partitions, checkpoints and
 * commits past it. Then the relay delivers everything held: a's produce completes, and its checkpoint write
 * comes late. Checked: no machine's applied offset ever decreases (sampled from the fences in Redis
 * throughout), no alert is missing or appears under a new id against the oracle.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { relayedListener } from '../../src/stack/kafka';
import {
  faultScenario,
  KNOWN_THRESHOLD,
  metricSum,
  ReadingStream,
  report,
  seconds,
  SKIP,
  sleep,
  WorkerProc,
} from './harness';
import { FenceSampler } from './fences';
import { assertNoLostOrExtraAlerts, checkAlerts, hourlyFleet } from './oracle';
import { BrokerRelay } from './relay';

const SPEC = hourlyFleet('2025-08-01T00:00:00Z', 60, 43, 100);
const SESSION_MS = 8_000;
const STALL_MS = SESSION_MS + 7_000;

test(
  "one worker's broker traffic stalled mid-send past its session timeout (Redis still reachable): applied never moves back, alerts exact",
  { skip: SKIP, timeout: 6 * 60_000 },
  async (t) => {
    const name = 'brokerstall';
    // Made once the scenario names the broker; stopped first at teardown.
    const late: { relay?: BrokerRelay; a?: WorkerProc } = {};
    const { f, bench, config, workers, knownRun, startWorkers, alerts } = await faultScenario(t, {
      name,
      workers: ['b'],
      env: { PDM_KAFKA_SESSION_TIMEOUT: `${SESSION_MS}ms` },
      beforeCleanup: async () => {
        await late.relay?.close();
        await late.a?.stop(5_000);
      },
    });
    const [host = '127.0.0.1', port = '9092'] = (config.kafka.brokers[0] ?? '').split(':');
    const ports = relayedListener(Number(port));
    const relay = (late.relay = new BrokerRelay(
      ports.relay,
      ports.listen,
      host === 'localhost' ? '127.0.0.1' : host,
    ));
    await relay.start();
    const a = (late.a = new WorkerProc('a', { ...f.env, PDM_KAFKA_BROKERS: `${host}:${ports.relay}` }, name));
    const b = workers[0]!;
    const { readings, expected } = await knownRun(SPEC, KNOWN_THRESHOLD);
    await startWorkers([a, b]);

    const fences = new FenceSampler(bench.redis, config.redis.prefix);

    const stream = new ReadingStream(bench, readings, 300);
    await stream.reach(0.3);
    const caught = relay.stallAtNextProduce();
    const stalledInTime = await Promise.race([caught.then(() => true), sleep(60_000).then(() => false)]);
    assert.ok(stalledInTime, 'worker a sent a Produce request within 60 s of arming the relay');
    await sleep(STALL_MS); // past the session timeout: b takes a's partitions and commits past a
    const stalledMs = relay.release();
    const held = [...relay.heldRequests].map(([key, n]) => `api ${key}: ${n}`).join(', ');
    await stream.finished;
    const drainMs = await bench.waitLagZero(180_000);
    await fences.stop();
    const refused = metricSum(await a.metrics(), 'pdm_checkpoint_refused_total');
    const result = checkAlerts(expected, await alerts());
    const crashes = [a, b].flatMap((w) => w.crashes);
    report([
      {
        test: 'broker-stall',
        fault: `one worker's broker traffic stalled ${seconds(stalledMs)} s from inside a produce (session ${SESSION_MS / 1000} s), Redis reachable`,
        injected: 1,
        missing: result.missing,
        extra: result.extra,
        duplicated: result.duplicates,
        recoverySeconds: seconds(drainMs),
        pass: result.missing === 0 && result.extra === 0 && fences.decreases === 0,
        notes: `${readings.length} readings/${SPEC.machines} machines at 300/s; ${result.expected} expected alerts; requests held at the stall (${held}); stale checkpoint writes refused ${refused}; applied decreases seen in ${fences.bookmarks} fences sampled every 200 ms: ${fences.decreases}; a ${a.alive ? 'up' : 'down'}, b ${b.alive ? 'up' : 'down'}`,
      },
    ]);
    assert.equal(crashes.length, 0, `unexpected exits: ${JSON.stringify(crashes)}`);
    assert.equal(fences.decreases, 0, 'no applied offset ever went back');
    assertNoLostOrExtraAlerts(result);
  },
);
