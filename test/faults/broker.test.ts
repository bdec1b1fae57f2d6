import assert from 'node:assert/strict';
import {
  brokerAnswers,
  faultTest,
  kafkaPid,
  KNOWN_THRESHOLD,
  ReadingStream,
  report,
  seconds,
  sleep,
  stackUp,
  STREAM_RATE,
} from './harness';
import { assertNoLostOrExtraAlerts, checkAlerts, hourlyFleet } from './oracle';

const SPEC = hourlyFleet('2025-10-01T00:00:00Z', 60, 11);
/** After the broker is back, each worker must be ready again or have exited within this (never wedged). */
const WEDGE_BOUND_MS = 120_000;

faultTest(
  'kill -9 of the Kafka broker mid-stream, restarted: no alert lost, each worker recovers or exits (and is restarted), none wedged',
  {
    minutes: 9,
    name: 'broker',
    // Whatever happened, leave a broker running for whoever comes next.
    beforeCleanup: async ({ bench }) => {
      if (!(await brokerAnswers(bench.kafka)))
        console.log(`[faults] broker down at cleanup; stack up: ${(await stackUp()).output}`);
    },
  },
  async ({ bench, workers, knownRun, startWorkers, alerts }) => {
    const { readings, expected } = await knownRun(SPEC, KNOWN_THRESHOLD);
    // The supervisor: a worker that exits on its own is restarted after 1 s, as an orchestrator would.
    for (const w of workers) w.supervise = true;
    await startWorkers();

    const stream = new ReadingStream(bench, readings, STREAM_RATE);
    await stream.reach(0.25);

    const pid = kafkaPid();
    const committedBefore = await bench.committedSum();
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    const midStream = !stream.done;
    const killedAtProgress = Math.round(stream.progress * 100);
    // While the broker is away: does /readyz still say ready? (Observed and reported, not asserted.)
    let brokerDown = true;
    let readyWhileDown = 0;
    let probesWhileDown = 0;
    const sampling = (async () => {
      while (brokerDown) {
        const ready = await Promise.all(workers.map((w) => w.isReady()));
        if (!brokerDown) break;
        probesWhileDown += ready.length;
        readyWhileDown += ready.filter(Boolean).length;
        await sleep(500);
      }
    })();
    await sleep(3_000); // the broker stays away a moment: clients see refused connections, not a blip
    const up = await stackUp();
    brokerDown = false;
    await sampling;
    assert.ok(up.ok, `stack up after the kill: ${up.output}`);
    const brokerBackAt = Date.now();
    // Progress resumes: the group commits beyond what it had committed before the kill.
    const resumed = (async () => {
      while (Date.now() - brokerBackAt < WEDGE_BOUND_MS) {
        if ((await bench.committedSum().catch(() => 0)) > committedBefore) return Date.now() - killedAt;
        await sleep(250);
      }
      return undefined;
    })();

    // Never wedged: within the bound each worker is ready, or exited (and the supervisor restarted it).
    const verdicts = await Promise.all(
      workers.map(async (w) => {
        const exitsBefore = w.exits.filter((e) => e.at >= killedAt).length;
        while (Date.now() - brokerBackAt < WEDGE_BOUND_MS) {
          if (await w.isReady()) return { worker: w.name, outcome: 'ready', afterMs: Date.now() - killedAt };
          if (w.exits.filter((e) => e.at >= killedAt).length > exitsBefore) {
            const exit = w.exits.at(-1)!;
            return {
              worker: w.name,
              outcome: `exited ${exit.code ?? exit.signal}`,
              afterMs: exit.at - killedAt,
            };
          }
          await sleep(250);
        }
        return { worker: w.name, outcome: 'WEDGED', afterMs: Date.now() - killedAt };
      }),
    );
    // Those that exited were restarted by the supervisor: wait for the whole group to be ready again.
    const allReady = await Promise.all(workers.map((w) => w.waitReady(WEDGE_BOUND_MS)));
    const recoveryMs = Date.now() - killedAt;
    const resumedMs = await resumed;
    const streamed = await stream.finished;
    const drainMs = await bench.waitLagZero(180_000);

    const result = checkAlerts(expected, await alerts());
    const exits = workers.flatMap((w) =>
      w.crashes.map((e) => ({ worker: w.name, ...e, afterMs: e.at - killedAt })),
    );
    console.log(
      JSON.stringify({
        test: 'broker',
        streamed,
        up: { ms: up.ms },
        verdicts,
        exits,
        recoveryMs,
        resumedMs,
        readyWhileDown,
        probesWhileDown,
        drainMs,
        result,
      }),
    );
    const wedged = verdicts.filter((v) => v.outcome === 'WEDGED');
    const zeroExit = exits.filter((e) => e.code === 0);
    report([
      {
        test: 'broker',
        fault: 'kill -9 Kafka broker + restart',
        injected: 1,
        missing: result.missing,
        extra: result.extra,
        duplicated: result.duplicates,
        recoverySeconds: seconds(recoveryMs),
        pass:
          result.missing === 0 &&
          result.extra === 0 &&
          wedged.length === 0 &&
          zeroExit.length === 0 &&
          allReady.every(Boolean),
        notes: `${readings.length} readings at ${STREAM_RATE}/s, killed at ${killedAtProgress}%${midStream ? '' : ' (after stream!)'}; broker restart ${seconds(up.ms)} s; /readyz 200 in ${readyWhileDown}/${probesWhileDown} probes while the broker was down; commits resumed at +${resumedMs === undefined ? 'never' : seconds(resumedMs)} s; workers: ${verdicts.map((v) => `${v.worker} ${v.outcome} at +${seconds(v.afterMs)} s`).join(', ')}; unrequested exits ${exits.length}; ${result.expected} expected alerts; producer send failures ${streamed.sendFailures}; recovery = kill → all /readyz 200; drain ${seconds(drainMs)} s`,
      },
    ]);
    assert.ok(midStream, 'the broker died mid-stream');
    assert.deepEqual(wedged, [], 'no worker wedged');
    assert.deepEqual(zeroExit, [], 'a worker that gives up exits non-zero');
    assert.ok(allReady.every(Boolean), 'all workers ready again');
    assert.ok(resumedMs !== undefined, 'the group commits again after the broker is back');
    assertNoLostOrExtraAlerts(result);
  },
);
