import assert from 'node:assert/strict';
import { knownScore, registerKnownModel } from '../known-model';
import { faultTest, metricSum, report, seconds, sleep, STREAM_RATE } from './harness';
import type { Bench, WorkerProc } from './harness';
import {
  alertKey,
  assertNoLostOrExtraAlerts,
  assertSeparated,
  checkAlerts,
  expectedAlerts,
  generateReadings,
  hourlyFleet,
  readingMessage,
  SAFE_THRESHOLDS,
} from './oracle';
import type { ObservedAlert } from './oracle';

const SPEC = hourlyFleet('2025-09-01T00:00:00Z', 60, 7, 100);
const PROMOTIONS = 10;

interface ScoreMessage {
  machineId: string;
  ts: string;
  score: number;
  modelVersion: string;
}

/** Everything on the scores and alerts topics once the workers are done. */
async function readOutputs(
  bench: Bench,
): Promise<{ scoreMsgs: { value: ScoreMessage | null }[]; alerts: ObservedAlert[] }> {
  const [scoreMsgs, alertMsgs] = await Promise.all([
    bench.readAll<ScoreMessage>(bench.config.topics.scores!),
    bench.readAll<ObservedAlert>(bench.config.topics.alerts),
  ]);
  return { scoreMsgs, alerts: alertMsgs.map((m) => m.value!) };
}

/** Alerts whose threshold is not the threshold of the version that scored them, with a few described. */
function thresholdMismatches(
  alerts: readonly ObservedAlert[],
  thresholds: ReadonlyMap<string, number>,
  shown: number,
) {
  const mismatch = alerts.filter((a) => thresholds.get(a.modelVersion) !== a.threshold);
  const examples = mismatch
    .slice(0, shown)
    .map(
      (a) =>
        `${alertKey(a.machineId, Date.parse(a.ts), a.state)} ${a.modelVersion} threshold ${a.threshold} (version's ${thresholds.get(a.modelVersion)})`,
    );
  return { mismatch, examples };
}

/** Every window scored, every alert with its own version's threshold, none lost or extra. */
function assertVersionedAlerts(
  seen: {
    missingScores: number;
    thresholdMismatch: readonly ObservedAlert[];
    examples: readonly string[];
    result: ReturnType<typeof checkAlerts>;
  },
  scoredMessage: string,
): void {
  assert.equal(seen.missingScores, 0, scoredMessage);
  assert.equal(
    seen.thresholdMismatch.length,
    0,
    `alerts carry their version's threshold; e.g. ${seen.examples.join('; ')}`,
  );
  assertNoLostOrExtraAlerts(seen.result);
}

const loadFailures = (workers: readonly WorkerProc[]) =>
  Promise.all(workers.map(async (w) => metricSum(await w.metrics(), 'pdm_model_load_failures_total')));

faultTest(
  '10 model promotions and one corrupt model during load: alerts follow the version that scored them, the corrupt one is refused',
  {
    minutes: 6,
    name: 'hotswap',
    env: { PDM_TOPIC_SCORES: `fswap${Date.now() % 1e6}.scores`, PDM_MODEL_POLL_INTERVAL: '300ms' },
  },
  async ({ bench, config, workers, startWorkers }) => {
    const thresholds = new Map<string, number>();
    const first = await registerKnownModel(bench.redis, config, {
      threshold: SAFE_THRESHOLDS[0],
      tag: 'hotswap 0',
    });
    thresholds.set(first.version, first.threshold);
    const readings = generateReadings(SPEC);
    assertSeparated(readings, SAFE_THRESHOLDS, config.alerts.hysteresis);
    const valueOf = new Map(readings.map((r) => [`${r.machineId}|${r.ts}`, r.v]));

    await startWorkers();

    const serving = async (w: WorkerProc) => {
      const res = await w.get('/model');
      return res?.status === 200 ? (JSON.parse(res.body) as { version: string | null }).version : null;
    };
    const waitServing = async (version: string, ms = 20_000) => {
      const started = Date.now();
      while (Date.now() - started < ms) {
        const versions = await Promise.all(workers.map(serving));
        if (versions.every((v) => v === version)) return Date.now() - started;
        await sleep(50);
      }
      throw new Error(`workers did not switch to ${version} within ${seconds(ms)} s`);
    };

    let streamDone = false;
    const streaming = bench
      .stream(config.topics.readings, readings.map(readingMessage), STREAM_RATE)
      .finally(() => (streamDone = true));
    const swapMs: number[] = [];
    let corrupt = '';
    let corruptRefusedMs = 0;
    let promotedMidStream = 0;
    for (let i = 1; i <= PROMOTIONS; i++) {
      await sleep(2_500);
      if (i === 6) {
        // A corrupt model: registered whole, then its weights overwritten, then pointed to directly (no verifying promote).
        const bad = await registerKnownModel(bench.redis, config, {
          threshold: 0.6,
          promote: false,
          tag: 'corrupt',
        });
        corrupt = bad.version;
        await bench.redis.set(
          `${config.redis.prefix}model:${bad.version}:weights`,
          Buffer.from('definitely not float32 weights'),
        );
        const at = Date.now();
        await bench.redis.set(`${config.redis.prefix}model:current`, bad.version);
        const before = [...thresholds.keys()].at(-1)!;
        for (;;) {
          const failures = await loadFailures(workers);
          if (failures.every((n) => n > 0)) break;
          if (Date.now() - at > 20_000)
            throw new Error(`corrupt model not refused by every worker within 20 s: ${failures.join(',')}`);
          await sleep(100);
        }
        corruptRefusedMs = Date.now() - at;
        assert.deepEqual(
          await Promise.all(workers.map(serving)),
          [before, before],
          'the previous model keeps serving',
        );
        await sleep(1_500);
      }
      const meta = await registerKnownModel(bench.redis, config, {
        threshold: SAFE_THRESHOLDS[i]!,
        tag: `hotswap ${i}`,
      });
      thresholds.set(meta.version, meta.threshold);
      if (!streamDone) promotedMidStream++;
      swapMs.push(await waitServing(meta.version));
    }
    await streaming;
    await bench.waitLagZero(120_000);

    const { scoreMsgs, alerts } = await readOutputs(bench);
    const failures = await loadFailures(workers);

    // Scores: each expected window exactly once, by a valid version, with the known score.
    const versionOf = new Map<string, string>();
    const problems: string[] = [];
    let duplicateScores = 0;
    for (const { value: s } of scoreMsgs) {
      const ts = Date.parse(s!.ts);
      const key = `${s!.machineId}|${ts}`;
      if (versionOf.has(key)) duplicateScores++;
      versionOf.set(key, s!.modelVersion);
      const v = valueOf.get(key);
      if (v === undefined) problems.push(`score for an unknown reading ${key}`);
      else if (Math.abs(s!.score - knownScore(v)) > 1e-4)
        problems.push(`${key}: score ${s!.score} vs known ${knownScore(v)}`);
      if (!thresholds.has(s!.modelVersion))
        problems.push(`${key} scored by ${s!.modelVersion}, not a valid promoted version`);
    }
    const window = config.model.window;
    const expectedScores = SPEC.machines * (SPEC.steps - window + 1);
    const missingScores = expectedScores - versionOf.size;
    // The oracle: the alert policy replayed offline with, for each window, the threshold of the version that scored it.
    const expected = expectedAlerts(readings, window, config.alerts, (m, ts) => {
      const version = versionOf.get(`${m}|${ts}`);
      return version && thresholds.has(version)
        ? { version, threshold: thresholds.get(version)! }
        : undefined;
    });
    const result = checkAlerts(expected, alerts);
    const badVersion = alerts.filter((a) => !thresholds.has(a.modelVersion) || a.modelVersion === corrupt);
    const { mismatch: thresholdMismatch, examples } = thresholdMismatches(alerts, thresholds, 5);
    const versionsUsed = new Set(versionOf.values());
    console.log(
      JSON.stringify({
        test: 'hotswap',
        swapMs,
        corruptRefusedMs,
        failures,
        versionsUsed: [...versionsUsed],
        missingScores,
        duplicateScores,
        result,
        thresholdMismatch: thresholdMismatch.length,
        examples,
        problems: problems.slice(0, 10),
      }),
    );
    report([
      {
        test: 'hotswap',
        fault: 'model promotions under load',
        injected: PROMOTIONS,
        missing: result.missing,
        extra: result.extra,
        duplicated: result.duplicates,
        recoverySeconds: seconds(Math.max(...swapMs)),
        pass:
          result.missing === 0 &&
          result.extra === 0 &&
          thresholdMismatch.length === 0 &&
          missingScores === 0 &&
          problems.length === 0,
        notes: `${readings.length} readings at ${STREAM_RATE}/s, ${promotedMidStream} promotions mid-stream, ${versionsUsed.size} versions scored; ${result.expected} expected alerts; alerts whose threshold is not their version's: ${thresholdMismatch.length}${examples.length ? ` (e.g. ${examples[0]})` : ''}; missing scores ${missingScores}, duplicate scores ${duplicateScores}; recovery = max promote → both workers serving (${swapMs.map(seconds).join('/')})`,
      },
      {
        test: 'hotswap',
        fault: 'corrupt model set as current',
        injected: 1,
        missing: null,
        extra: badVersion.length,
        duplicated: null,
        recoverySeconds: seconds(corruptRefusedMs),
        pass: badVersion.length === 0 && failures.every((n) => n > 0),
        notes: `pdm_model_load_failures_total per worker ${failures.join('/')}; alerts naming an invalid or corrupt version: ${badVersion.length}; recovery = set current → refused by both`,
      },
    ]);
    assert.deepEqual(problems.slice(0, 10), []);
    assert.equal(badVersion.length, 0, 'every alert names a valid, non-corrupt version');
    assert.ok(
      failures.every((n) => n > 0),
      'each worker refused the corrupt model',
    );
    assertVersionedAlerts({ missingScores, thresholdMismatch, examples, result }, 'every window scored');
  },
);

/**
 * The same checks with the swap placed inside one Kafka batch: the worker drains a backlog (one large batch
 * per partition, its windows spread over several scoring flushes) and a version is promoted while the batch's
 * last flush waits. Windows of that batch scored by version A before the swap must still be judged by A's
 * threshold when the batch's alerts are decided after it.
 */
// Full scoring batches (64) flush at once with the serving version; each Kafka batch's tail waits 1 s for
// the timer (3 s), and a promotion lands in that wait: one Kafka batch, scored by two versions.
faultTest(
  'a promotion while a Kafka batch is being scored: every window scored once, every alert carries its own version’s threshold',
  {
    minutes: 4,
    name: 'hotswap-backlog',
    env: {
      PDM_TOPIC_SCORES: `fswapbl${Date.now() % 1e6}.scores`,
      PDM_MODEL_POLL_INTERVAL: '50ms',
      PDM_SCORE_MAX_WAIT: '3s',
      PDM_SCORE_BATCH: '64',
    },
    workers: ['a'],
  },
  async ({ bench, config, workers, startWorkers }) => {
    const worker = workers[0]!;
    const thresholds = new Map<string, number>();
    const first = await registerKnownModel(bench.redis, config, {
      threshold: SAFE_THRESHOLDS[0],
      tag: 'backlog 0',
    });
    thresholds.set(first.version, first.threshold);
    const spec = { ...SPEC, machines: 200, steps: 60, seed: 8 };
    const readings = generateReadings(spec);
    assertSeparated(readings, SAFE_THRESHOLDS, config.alerts.hysteresis);
    // Pre-register the versions so that promoting is a single Redis write each.
    const versions: { version: string; threshold: number }[] = [];
    for (let i = 1; i <= PROMOTIONS; i++)
      versions.push(
        await registerKnownModel(bench.redis, config, {
          threshold: SAFE_THRESHOLDS[i]!,
          promote: false,
          tag: `backlog ${i}`,
        }),
      );
    for (const v of versions) thresholds.set(v.version, v.threshold);
    await startWorkers();
    // The whole backlog in one request: one Kafka batch per partition, all waiting on the same scoring timer.
    await bench.sendReliably(config.topics.readings, readings.map(readingMessage));
    await sleep(1_000);
    let promoted = 0;
    // One promotion now (inside that scoring wait), then one every 7 s: never two within one wait, so a
    // window is re-featurised at most once (the next test shows what more swaps do).
    for (let lag = await bench.groupLag(); lag > 0 && promoted < versions.length; promoted++) {
      await bench.redis.set(`${config.redis.prefix}model:current`, versions[promoted]!.version);
      await sleep(7_000);
      lag = await bench.groupLag();
    }
    await bench.waitLagZero(120_000);
    const { scoreMsgs, alerts } = await readOutputs(bench);
    const versionOf = new Map(
      scoreMsgs.map(({ value: s }) => [`${s!.machineId}|${Date.parse(s!.ts)}`, s!.modelVersion]),
    );
    const expected = expectedAlerts(readings, config.model.window, config.alerts, (m, ts) => {
      const version = versionOf.get(`${m}|${ts}`);
      return version ? { version, threshold: thresholds.get(version)! } : undefined;
    });
    const result = checkAlerts(expected, alerts);
    const missingScores = spec.machines * (spec.steps - config.model.window + 1) - versionOf.size;
    const batchErrors = worker.batchErrors();
    const { mismatch: thresholdMismatch, examples } = thresholdMismatches(alerts, thresholds, 3);
    report([
      {
        test: 'hotswap',
        fault: 'promotion mid-batch (backlog)',
        injected: promoted,
        missing: result.missing,
        extra: result.extra,
        duplicated: result.duplicates,
        recoverySeconds: null,
        pass:
          result.missing === 0 && result.extra === 0 && thresholdMismatch.length === 0 && missingScores === 0,
        notes: `${readings.length} readings backlog, ${new Set(versionOf.values()).size} versions scored; windows never scored: ${missingScores} (eachBatch errors ${batchErrors}); ${result.expected} alerts expected from the scores seen; alerts whose threshold is not their version's: ${thresholdMismatch.length}${examples.length ? ` (e.g. ${examples[0]})` : ''}`,
      },
    ]);
    assertVersionedAlerts(
      { missingScores, thresholdMismatch, examples, result },
      `every window scored exactly once (eachBatch errors in the worker log: ${batchErrors})`,
    );
  },
);

/**
 * Swaps faster than the scorer's batching wait: a window's features go stale before its batch flushes, three
 * times in a row, and scoring fails the Kafka batch. That batch has already been applied to the in-memory
 * machine states (window, alert state, last applied offset), so when kafkajs re-delivers it every record is
 * taken for a re-delivery of something already applied and skipped: its windows are never scored, its alerts
 * never published. All versions have the same threshold, so only loss (not the threshold) is under test.
 * Swaps run for at most 15 s, then the backlog must drain completely.
 */
faultTest(
  'a scoring failure mid-batch (model swapped faster than the batching wait) loses no window',
  {
    minutes: 3,
    name: 'hotswap-fast',
    env: {
      PDM_TOPIC_SCORES: `fswapfast${Date.now() % 1e6}.scores`,
      PDM_MODEL_POLL_INTERVAL: '50ms',
      PDM_SCORE_MAX_WAIT: '1s',
      PDM_SCORE_BATCH: '4096',
    },
    workers: ['a'],
  },
  async ({ bench, config, workers, startWorkers, alerts }) => {
    const worker = workers[0]!;
    const spec = { ...SPEC, machines: 100, steps: 40, seed: 10 };
    const readings = generateReadings(spec);
    // Eight versions promoted in turn, so a window's version is (almost) never current again by its flush.
    const versions: string[] = [];
    for (let i = 0; i < 8; i++) {
      const meta = await registerKnownModel(bench.redis, config, {
        threshold: 0.52,
        promote: i === 0,
        tag: `fast ${i}`,
      });
      versions.push(meta.version);
    }
    await bench.sendReliably(config.topics.readings, readings.map(readingMessage));
    await startWorkers();
    let promoted = 0;
    const started = Date.now();
    for (let lag = await bench.groupLag(); lag > 0 && Date.now() - started < 15_000; promoted++) {
      await bench.redis.set(
        `${config.redis.prefix}model:current`,
        versions[(promoted + 1) % versions.length]!,
      );
      await sleep(200);
      if (promoted % 5 === 4) lag = await bench.groupLag();
    }
    await bench.waitLagZero(60_000);
    const scores = await bench.readAll<ScoreMessage>(config.topics.scores!);
    const scored = new Set(scores.map(({ value: s }) => `${s!.machineId}|${Date.parse(s!.ts)}`));
    const missingScores = spec.machines * (spec.steps - config.model.window + 1) - scored.size;
    const expected = expectedAlerts(readings, config.model.window, config.alerts, () => ({
      version: versions[0]!,
      threshold: 0.52,
    }));
    // Which version scored a window is timing; compare alerts by machine, reading and transition only.
    const seen = new Set((await alerts()).map((x) => alertKey(x.machineId, Date.parse(x.ts), x.state)));
    const missingAlerts = [...expected.keys()].filter((k) => !seen.has(k)).length;
    const batchErrors = worker.batchErrors();
    const redelivered = metricSum(await worker.metrics(), 'pdm_records_dropped_total', {
      reason: 'redelivered',
    });
    report([
      {
        test: 'hotswap',
        fault: 'swaps faster than the scoring wait',
        injected: promoted,
        missing: missingAlerts,
        extra: null,
        duplicated: null,
        recoverySeconds: null,
        pass: missingScores === 0 && missingAlerts === 0,
        notes: `${readings.length} readings backlog; windows never scored: ${missingScores} of ${spec.machines * (spec.steps - config.model.window + 1)}; eachBatch errors ${batchErrors}; records skipped as "redelivered" ${redelivered}; missing = expected alerts (machine|ts|state) never published`,
      },
    ]);
    assert.equal(
      missingScores,
      0,
      `every window scored (eachBatch errors ${batchErrors}, skipped as redelivered ${redelivered})`,
    );
    assert.equal(missingAlerts, 0, 'every expected alert published');
  },
);
