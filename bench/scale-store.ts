import { gzipSync } from 'node:zlib';
import { loadConfig } from '../src/config';
import type { Config } from '../src/config';
import { createLogger } from '../src/log';
import { disposeModel } from '../src/model/tf';
import { createRedis } from '../src/redis/client';
import { KerasTokenizer } from '../src/tokenize';
import { prAuc, rocAuc } from '../src/train';
import type { RawWindow } from '../src/train/dataset';
import { fitModel, fitScaler } from '../src/train/fit';
import { prepareTraining, scoreWith } from '../src/train/once';
import type { TopicSnapshot } from '../src/train/source';
import { storeSpec, TrainStore } from '../src/train/store';
import type { StoreReport } from '../src/train/store';
import type { LogEntry } from '../src/ingest';
import { fleetSnapshot, testEnv } from '../test/helpers';
import { median, table } from './stats';

/**
 * The bounded sample store against the full history (issue 15 item 2), `npm run bench -- --only=store`:
 * per seed, a simulated fleet is fed to the store in rounds (a fresh store object each round, as a
 * restarted trainer would load it from Redis) under a budget of PDM_BENCH_STORE_FRACTION (default 0.5)
 * of what the older store took for the same history (gzipped JSON). One model is trained on every window
 * of the full history's training split, one on the store's windows in the same time span; both are scored
 * on the full history's holdout windows, so the PR-AUCs compare like with like.
 */

const DAY = 86_400_000;
const note = (what: string, figures: Record<string, unknown> = {}) =>
  console.error(`store: ${what} ${JSON.stringify(figures)}`);

/** The simulated history, and the same records cut into training rounds of 4 simulated days. */
function simulate(
  machines: number,
  seed: number,
  days: number,
): { rounds: TopicSnapshot[]; all: TopicSnapshot } {
  const all = fleetSnapshot({ machines, seed, days });
  const start = Math.min(...all.readings.map((r) => r.ts));
  const roundOf = (ts: number) => Math.max(0, Math.floor((ts - start) / (4 * DAY)));
  const rounds = Array.from({ length: Math.ceil(days / 4) }, (): TopicSnapshot => ({
    readings: [],
    logs: [],
    failures: [],
    invalid: {},
  }));
  const at = (ts: number) => rounds[Math.min(rounds.length - 1, roundOf(ts))]!;
  for (const r of all.readings) at(r.ts).readings.push(r);
  for (const l of all.logs) at(l.ts).logs.push(l);
  for (const f of all.failures) at(f.ts).failures.push(f);
  return { rounds, all };
}

async function fillStore(config: Config, key: string, budget: number, rounds: readonly TopicSnapshot[]) {
  const redis = createRedis(config);
  const logger = createLogger('error');
  try {
    let store: TrainStore | undefined;
    for (const round of rounds) {
      store = new TrainStore(redis, key, storeSpec(config), budget, logger);
      await store.load();
      store.add(round);
      store.enforceBudget({});
      await store.save();
    }
    const stored = Object.values(await redis.hgetallBuffer(key)).reduce((n, b) => n + b.length, 0);
    return {
      store: store!,
      report: store!.report(),
      redisBytes: Number(await redis.call('MEMORY', 'USAGE', key)),
      stored,
    };
  } finally {
    await redis.del(key);
    redis.disconnect();
  }
}

async function trainAndScore(
  config: Config,
  train: RawWindow[],
  validation: RawWindow[],
  holdout: RawWindow[],
  trainLogs: readonly LogEntry[],
  sensors: string[],
) {
  const tokenizer = KerasTokenizer.fit(
    trainLogs.map((l) => l.text),
    { numWords: config.model.vocabSize },
  );
  const scaler = fitScaler(train, sensors);
  const started = performance.now();
  const { model } = await fitModel(
    train,
    validation,
    {
      shape: config.model,
      sensors,
      scaler,
      tokenizer,
      epochs: config.training.epochs,
      batchSize: config.training.batchSize,
      patience: config.training.patience,
      seed: config.training.seed,
      branches: 'both',
    },
    createLogger('warn'),
  );
  try {
    const spec = {
      sensors,
      scaler,
      window: config.model.window,
      textMaxLen: config.model.textMaxLen,
      tokenizer,
    };
    const raw = scoreWith(model, spec, holdout);
    const labels = Float32Array.from(holdout, (w) => w.label);
    return {
      prAuc: prAuc(labels, raw),
      rocAuc: rocAuc(labels, raw),
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    disposeModel(model);
  }
}

export async function benchScaleStore(quick: boolean): Promise<Record<string, unknown>> {
  const seeds = (process.env.PDM_BENCH_SEEDS ?? (quick ? '1' : '1,2,3')).split(',').map(Number);
  const machines = Number(process.env.PDM_BENCH_MACHINES ?? (quick ? 8 : 12));
  const days = Number(process.env.PDM_BENCH_DAYS ?? (quick ? 24 : 36));
  const fraction = Number(process.env.PDM_BENCH_STORE_FRACTION ?? 0.5);
  const config = loadConfig({
    ...testEnv({ PDM_LOG_LEVEL: 'error', PDM_TRAIN_EPOCHS: quick ? '2' : '4' }),
    ...process.env,
  });
  const logger = createLogger('error');
  const runs: { prAucDiff: number; prAucSeedSpread: number }[] = [];
  const rows: string[][] = [];
  for (const seed of seeds) {
    const { rounds, all } = simulate(machines, seed, days);
    const legacyBytes = gzipSync(JSON.stringify({ snapshot: all, offsets: {} })).length;
    const budget = Math.floor(legacyBytes * fraction);
    const key = `${config.redis.prefix}bench:store:${seed}`;
    const unbounded = await fillStore(config, `${key}:all`, 2 ** 40, rounds);
    const bounded = await fillStore(config, key, budget, rounds);
    const full = prepareTraining(all, config, logger);
    const { validationFrom, holdoutFrom } = full.split.boundaries;
    const H = config.horizonMs;
    const kept = bounded.store.windows();
    const train = kept.windows.filter((w) => w.endTs < validationFrom && w.endTs + H < validationFrom);
    const validation = kept.windows.filter(
      (w) => w.endTs >= validationFrom && w.endTs < holdoutFrom && w.endTs + H < holdoutFrom,
    );
    note('seed', { seed, legacyBytes, budget, full: full.train.length, bounded: train.length });
    const before = (logs: readonly LogEntry[]) => logs.filter((l) => l.ts < validationFrom);
    // Two training seeds per side: on this much data, two models of the same windows land further apart
    // than 0.02, so the comparison is of the means.
    const trainingSeeds = [config.training.seed, config.training.seed + 1];
    const fulls = [];
    const boundeds = [];
    for (const trainingSeed of trainingSeeds) {
      const c = { ...config, training: { ...config.training, seed: trainingSeed } };
      fulls.push(
        await trainAndScore(
          c,
          full.train,
          full.split.validation,
          full.split.holdout,
          before(all.logs),
          full.sensors,
        ),
      );
      boundeds.push(
        await trainAndScore(c, train, validation, full.split.holdout, before(kept.logs), full.sensors),
      );
    }
    const mean = (xs: readonly { prAuc: number | null }[]) =>
      xs.reduce((n, x) => n + (x.prAuc ?? NaN), 0) / xs.length;
    const a = { prAuc: mean(fulls), seconds: fulls.reduce((n, x) => n + x.seconds, 0) };
    const b = { prAuc: mean(boundeds), seconds: boundeds.reduce((n, x) => n + x.seconds, 0) };
    const positives = (ws: readonly RawWindow[]) => ws.filter((w) => w.label === 1).length;
    const report: StoreReport = bounded.report;
    const run = {
      seed,
      legacyBytes,
      unboundedStoreBytes: unbounded.report.bytes,
      budget,
      boundedStoreBytes: report.bytes,
      boundedRedisBytes: bounded.redisBytes,
      store: report,
      train: { full: full.train.length, bounded: train.length },
      trainPositives: { full: positives(full.train), bounded: positives(train) },
      holdout: { windows: full.split.holdout.length, positives: positives(full.split.holdout) },
      trainingSeeds,
      full: fulls,
      bounded: boundeds,
      prAucDiff: b.prAuc - a.prAuc,
      prAucSeedSpread: Math.abs((fulls[1]!.prAuc ?? NaN) - (fulls[0]!.prAuc ?? NaN)),
    };
    runs.push(run);
    console.log(`STORE-RUN ${JSON.stringify(run)}`);
    const f3 = (x: number | null) => (x === null || Number.isNaN(x) ? '-' : x.toFixed(3));
    rows.push([
      String(seed),
      String(legacyBytes),
      String(unbounded.report.bytes),
      `${report.bytes} (${((100 * report.bytes) / legacyBytes).toFixed(0)}%)`,
      `${full.train.length} / ${train.length}`,
      `${positives(full.train)} / ${positives(train)}`,
      `${f3(a.prAuc)} / ${f3(b.prAuc)}`,
      f3(run.prAucDiff),
      `${fulls.map((x) => f3(x.prAuc)).join(', ')} / ${boundeds.map((x) => f3(x.prAuc)).join(', ')}`,
      f3(run.prAucSeedSpread),
      `${a.seconds.toFixed(0)} / ${b.seconds.toFixed(0)}`,
    ]);
  }
  const diffs = runs.map((r) => r.prAucDiff);
  const spreads = runs.map((r) => r.prAucSeedSpread);
  console.log(
    table(
      `Bounded sample store vs full history (${machines} machines × ${days} days, rounds of 4 days, budget ${fraction} of the gzipped-JSON store; holdout = the full history's)`,
      [
        'seed',
        'gzipped JSON, all (bytes)',
        'binary store, unbounded (bytes)',
        'bounded store (bytes, of JSON)',
        'train windows full / bounded',
        'train positives',
        'holdout PR-AUC full / bounded (mean of 2 training seeds)',
        'difference',
        'each training seed: full / bounded',
        'full: seed-to-seed',
        'training s',
      ],
      rows,
    ),
  );
  if (diffs.length)
    console.log(
      `median PR-AUC difference, bounded − full: ${median(diffs).toFixed(3)}; full, one training seed vs the other: ${median(spreads).toFixed(3)}`,
    );
  return { machines, days, fraction, runs, medianPrAucDiff: diffs.length ? median(diffs) : null };
}
