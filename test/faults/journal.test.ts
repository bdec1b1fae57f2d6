/**
 * Issue 12 finding 5, with real worker processes: a worker is killed (-9) after its batches' outputs were
 * acknowledged and before their checkpoints (its checkpoint writes are made to fail mid-stream, so every
 * batch stops right there), and a new model version with another threshold is promoted before its
 * replacement starts. The replacement re-delivers those records: it must take the journaled decisions (the
 * killed worker's version and threshold), so that no alert of a redelivered reading comes under a new id.
 * The oracle: the first version decides every reading the killed worker checkpointed or journaled, the new
 * one every later reading, with the alert vote carried across; no alert missing, none extra.
 */
import assert from 'node:assert/strict';
import { CheckpointStore } from '../../src/state';
import { registerKnownModel } from '../known-model';
import {
  faultTest,
  KNOWN_THRESHOLD,
  metricSum,
  ReadingStream,
  report,
  seconds,
  sleep,
  STREAM_RATE,
} from './harness';
import {
  assertNoLostOrExtraAlerts,
  assertSeparated,
  checkAlerts,
  expectedAlerts,
  hourlyFleet,
} from './oracle';

const SPEC = hourlyFleet('2025-10-01T00:00:00Z', 50, 17, 80);
/** The version promoted while the worker is down: the same scores, another threshold, so other decisions. */
const NEW_THRESHOLD = 0.67;

faultTest(
  'kill -9 after the sends and before the checkpoint, a new version promoted before the restart: redelivered readings keep their journaled decisions and alert ids',
  { minutes: 5, name: 'journal', workers: ['a', 'b'] },
  async ({ bench, config, workers, knownRun, startWorkers, alerts }) => {
    const [a, b] = workers as [(typeof workers)[0], (typeof workers)[0]];
    const first = await knownRun(SPEC, KNOWN_THRESHOLD);
    assertSeparated(first.readings, [NEW_THRESHOLD], config.alerts.hysteresis);
    await startWorkers([a]);
    const stream = new ReadingStream(bench, first.readings, STREAM_RATE);
    await stream.reach(0.25);
    // A backlog first (the worker stopped while the stream goes on), so that the batches that get stuck
    // below hold many windows and some of their alerts.
    await a.stop();
    // Every checkpoint write fails from now on (a fence of the wrong type makes the script error): each
    // partition's first batch after the restart journals, sends and then retries its checkpoint until the kill.
    const prefix = config.redis.prefix;
    const fences = await bench.redis.keys(`${prefix}fence:*`);
    assert.ok(fences.length > 0, 'machines were checkpointed before');
    const poison = bench.redis.multi();
    for (const key of fences) poison.del(key).hset(key, 'poisoned', '1');
    await poison.exec();
    const sentBefore = (await alerts()).length;
    await stream.reach(0.5);
    await startWorkers([a]);
    let journals: string[] = [];
    for (let i = 0; i < 60 && journals.length === 0; i++) {
      await sleep(500);
      journals = await bench.redis.keys(`${prefix}journal:*`);
    }
    await sleep(3_000); // let every partition reach its stuck checkpoint
    a.kill('SIGKILL');
    assert.ok(await a.waitExit(5_000), 'a died');
    const killedAt = Date.now();

    // What the killed worker decided: checkpointed (each machine's last score) or only journaled.
    const store = new CheckpointStore(bench.redis, prefix);
    const ids = [...new Set(first.readings.map((r) => r.machineId))];
    const states = await store.load(ids);
    const journaled = [...(await store.journaled(ids)).values()].flat();
    const cut = new Map(ids.map((id) => [id, states.get(id)?.lastScore?.ts ?? -Infinity]));
    for (const d of journaled) cut.set(d.machineId, Math.max(cut.get(d.machineId) ?? -Infinity, d.ts));
    const atJournaled = new Set(journaled.map((d) => `${d.machineId}|${d.ts}`));
    const sentForJournaled = (await alerts()).filter((x) =>
      atJournaled.has(`${x.machineId}|${Date.parse(x.ts)}`),
    );
    assert.ok(
      journaled.length > 0 && sentForJournaled.length > 0,
      `the killed worker journaled decisions whose checkpoints never came (${journaled.length}) and published alerts for some of those readings (${sentForJournaled.length})`,
    );

    // Checkpoints work again; a new version with another threshold is promoted; the replacement starts.
    await bench.redis.del(...fences);
    const second = await registerKnownModel(bench.redis, config, { threshold: NEW_THRESHOLD });
    await startWorkers([b]);
    const streamed = await stream.finished;
    const drainMs = await bench.waitLagZero(180_000);
    const recoveredMs = Date.now() - killedAt;

    const expected = expectedAlerts(first.readings, config.model.window, config.alerts, (m, ts) =>
      ts <= (cut.get(m) ?? -Infinity)
        ? { version: first.version, threshold: first.threshold }
        : { version: second.version, threshold: NEW_THRESHOLD },
    );
    const observed = await alerts();
    const result = checkAlerts(expected, observed);
    const newIds = observed.filter(
      (x) => atJournaled.has(`${x.machineId}|${Date.parse(x.ts)}`) && x.modelVersion !== first.version,
    );
    const reused = metricSum(await b.metrics(), 'pdm_decisions_reused_total');
    const leftover = await bench.redis.keys(`${prefix}journal:*`);
    const crashes = [a, b].flatMap((w) => w.crashes);
    report([
      {
        test: 'journal',
        fault:
          'kill -9 after the sends, before the checkpoints; a version with another threshold promoted before the restart',
        injected: 1,
        missing: result.missing,
        extra: result.extra,
        duplicated: result.duplicates,
        recoverySeconds: seconds(recoveredMs),
        pass: result.missing === 0 && result.extra === 0 && newIds.length === 0,
        notes: `${streamed.sent} readings/${SPEC.machines} machines at ${STREAM_RATE}/s; ${journaled.length} decisions journaled and not checkpointed at the kill (${sentForJournaled.length} of their alerts already published, ${sentBefore} alerts before the checkpoints failed); the replacement reused ${reused}; alerts of redelivered readings under a new id: ${newIds.length}; journal keys left after the drain: ${leftover.length}; ${result.expected} expected alerts (both versions); drain ${seconds(drainMs)} s`,
      },
    ]);
    assert.equal(
      newIds.length,
      0,
      `redelivered readings alerted under the new version: ${JSON.stringify(newIds[0])}`,
    );
    assert.ok(reused >= journaled.length, `the replacement took the journaled decisions (${reused})`);
    assert.deepEqual(leftover, [], 'the checkpoints removed every journal entry');
    assert.equal(crashes.length, 0, `unexpected exits: ${JSON.stringify(crashes)}`);
    assertNoLostOrExtraAlerts(result);
  },
);
