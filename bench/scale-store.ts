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
 * of the full history's training split, one per bounded arm on its store's windows in the same time span
 * (PDM_BENCH_STORE_ARMS, below); all are scored on the full history's holdout windows, so the PR-AUCs
 * compare like with like. Every arm uses the same training seeds (PDM_BENCH_TRAINING_SEEDS), so each
 * difference is paired, and the full arm's seeds against each other are the noise floor.
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
  weightedLoss: boolean,
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
      weightedLoss,
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

/** Spread of paired differences: median, mean, sample standard deviation, range. */
function describe(xs: readonly number[]) {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / Math.max(1, xs.length - 1));
  return {
    n: xs.length,
    median: median(xs),
    mean,
    sd,
    /** Standard error of the mean. */
    se: sd / Math.sqrt(xs.length),
    min: Math.min(...xs),
    max: Math.max(...xs),
  };
}

/**
 * Built-in arms. full: the full history. store: the store's windows as the trainer uses them by default (loss
 * counts each window once, validation weighted). weighted: PDM_TRAIN_WEIGHTED_LOSS=true. unweighted: weights
 * stripped (the trainer before them). fullval: the store's training windows, the full history's validation
 * windows (a diagnosis: is a loss the training set's or the epoch choice's?). fulltok: the store's windows,
 * the vocabulary fitted on every log of the history (a diagnosis too). Any other arm is a store variant,
 * `name:VAR=value&VAR=value` (e.g. `share05:PDM_TRAIN_STORE_NEAR_SHARE=0.5`): its own store built under those
 * settings (PDM_BENCH_STORE_FRACTION among them: its own budget), trained as `store` is with those settings
 * (PDM_TRAIN_EPOCHS among them).
 */
const BUILT_IN = ['full', 'store', 'weighted', 'unweighted', 'fullval', 'fulltok'] as const;

interface ArmSpec {
  readonly name: string;
  /** Settings of the store this arm trains from (variants only). */
  readonly env: Record<string, string>;
}

function parseArms(text: string): ArmSpec[] {
  const arms = text.split(',').map((item): ArmSpec => {
    const [name, settings] = item.split(':') as [string, string | undefined];
    if (!settings) {
      if (!(BUILT_IN as readonly string[]).includes(name))
        throw new Error(
          `PDM_BENCH_STORE_ARMS: "${name}" is neither ${BUILT_IN.join(', ')} nor name:VAR=value`,
        );
      return { name, env: {} };
    }
    return {
      name,
      env: Object.fromEntries(settings.split('&').map((kv) => kv.split('=') as [string, string])),
    };
  });
  return arms.some((a) => a.name === 'full') ? arms : [{ name: 'full', env: {} }, ...arms];
}

/** The arithmetic mean. */
const meanOf = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

export async function benchScaleStore(quick: boolean): Promise<Record<string, unknown>> {
  const seeds = (process.env.PDM_BENCH_SEEDS ?? (quick ? '1' : '1,2,3,4,5')).split(',').map(Number);
  const machines = Number(process.env.PDM_BENCH_MACHINES ?? (quick ? 8 : 12));
  const days = Number(process.env.PDM_BENCH_DAYS ?? (quick ? 24 : 36));
  const fraction = Number(process.env.PDM_BENCH_STORE_FRACTION ?? 0.5);
  // A smaller network than the product default, the same for every arm: the question is what the data
  // supports, and the 2-core bench box has to train every arm × training seed × history.
  const env = {
    ...testEnv({
      PDM_LOG_LEVEL: 'error',
      PDM_TRAIN_EPOCHS: quick ? '2' : '6',
      PDM_LSTM_UNITS: '32',
      PDM_TEXT_LSTM_UNITS: '16',
      PDM_DENSE_UNITS: '16',
    }),
    ...process.env,
  };
  const config = loadConfig(env);
  const trainingSeeds = (process.env.PDM_BENCH_TRAINING_SEEDS ?? '42,43,44').split(',').map(Number);
  const arms = parseArms(
    process.env.PDM_BENCH_STORE_ARMS ?? 'full,store,share05:PDM_TRAIN_STORE_NEAR_SHARE=0.5',
  );
  const bounded = arms.filter((a) => a.name !== 'full').map((a) => a.name);
  const logger = createLogger('error');
  const runs: Record<string, unknown>[] = [];
  const diffs: Record<string, number[]> = Object.fromEntries(bounded.map((a) => [a, []]));
  const pairs: Record<string, number[]> = Object.fromEntries(bounded.map((a) => [a, []]));
  /** Per data seed: full at the first training seed − full at the second (a null arm), and |all pairs|. */
  const nullDiffs: number[] = [];
  const floors: number[] = [];
  const rows: string[][] = [];
  const f3 = (x: number | null) => (x === null || Number.isNaN(x) ? '-' : x.toFixed(3));
  const signed = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(3)}`;
  for (const seed of seeds) {
    const { rounds, all } = simulate(machines, seed, days);
    const legacyBytes = gzipSync(JSON.stringify({ snapshot: all, offsets: {} })).length;
    const budget = Math.floor(legacyBytes * fraction);
    const key = `${config.redis.prefix}bench:store:${seed}`;
    const unbounded = await fillStore(config, `${key}:all`, 2 ** 40, rounds);
    const full = prepareTraining(all, config, logger);
    const { validationFrom, holdoutFrom } = full.split.boundaries;
    const H = config.horizonMs;
    // The trainer before importance weights: the same windows, each counted once.
    const strip = (ws: readonly RawWindow[]) => ws.map(({ weight: _weight, ...w }) => w);
    interface TrainingSet {
      train: RawWindow[];
      validation: RawWindow[];
      logs: readonly LogEntry[];
      report?: StoreReport;
    }
    const fromStore = async (overrides: Record<string, string>, name: string): Promise<TrainingSet> => {
      const c = loadConfig({ ...env, ...overrides });
      const share = Number(overrides.PDM_BENCH_STORE_FRACTION ?? fraction);
      const filled = await fillStore(c, `${key}:${name}`, Math.floor(legacyBytes * share), rounds);
      const kept = filled.store.windows();
      return {
        train: kept.windows.filter((w) => w.endTs < validationFrom && w.endTs + H < validationFrom),
        validation: kept.windows.filter(
          (w) => w.endTs >= validationFrom && w.endTs < holdoutFrom && w.endTs + H < holdoutFrom,
        ),
        logs: kept.logs,
        report: filled.report,
      };
    };
    const sets: Record<string, TrainingSet> = {
      full: { train: full.train, validation: full.split.validation, logs: all.logs },
    };
    let byDefault: TrainingSet | undefined;
    for (const arm of arms) {
      if (arm.name === 'full') continue;
      if (Object.keys(arm.env).length) {
        sets[arm.name] = await fromStore(arm.env, arm.name);
        continue;
      }
      const d = (byDefault ??= await fromStore({}, 'store'));
      if (arm.name === 'store' || arm.name === 'weighted') sets[arm.name] = d;
      else if (arm.name === 'unweighted')
        sets[arm.name] = { ...d, train: strip(d.train), validation: strip(d.validation) };
      else if (arm.name === 'fullval') sets[arm.name] = { ...d, validation: full.split.validation };
      else sets[arm.name] = { ...d, logs: all.logs };
    }
    const weightSum = (ws: readonly RawWindow[]) => ws.reduce((n, w) => n + (w.weight ?? 1), 0);
    note('seed', {
      seed,
      legacyBytes,
      budget,
      train: Object.fromEntries(arms.map((a) => [a.name, sets[a.name]!.train.length])),
    });
    const before = (logs: readonly LogEntry[]) => logs.filter((l) => l.ts < validationFrom);
    // Every arm with the same training seeds (paired): what differs within a pair is the data alone.
    const scores: Record<string, { prAuc: number | null; rocAuc: number | null; seconds: number }[]> =
      Object.fromEntries(arms.map((a) => [a.name, []]));
    for (const trainingSeed of trainingSeeds) {
      for (const arm of arms) {
        const set = sets[arm.name]!;
        // A variant's settings apply to its training too (PDM_TRAIN_EPOCHS, say).
        const armConfig = Object.keys(arm.env).length ? loadConfig({ ...env, ...arm.env }) : config;
        const c = { ...armConfig, training: { ...armConfig.training, seed: trainingSeed } };
        scores[arm.name]!.push(
          await trainAndScore(
            c,
            arm.name === 'weighted',
            set.train,
            set.validation,
            full.split.holdout,
            before(set.logs),
            full.sensors,
          ),
        );
      }
    }
    const pr = (arm: string) => scores[arm]!.map((x) => x.prAuc ?? NaN);
    const diffOf = (arm: string) => pr(arm).map((x, i) => x - pr('full')[i]!);
    for (const arm of bounded) {
      diffs[arm]!.push(meanOf(diffOf(arm)));
      pairs[arm]!.push(...diffOf(arm));
    }
    const fullPr = pr('full');
    if (fullPr.length >= 2) nullDiffs.push(fullPr[0]! - fullPr[1]!);
    const floor = fullPr.flatMap((x, i) => fullPr.slice(i + 1).map((y) => Math.abs(x - y)));
    floors.push(...floor);
    const positives = (ws: readonly RawWindow[]) => ws.filter((w) => w.label === 1).length;
    const storeOf = (arm: string) => {
      const r = sets[arm]!.report!;
      return {
        bytes: r.bytes,
        ofLegacy: r.bytes / legacyBytes,
        ofUnbounded: r.bytes / unbounded.report.bytes,
        windows: r.windows,
        caps: r.caps,
        trainWindows: sets[arm]!.train.length,
        trainPositives: positives(sets[arm]!.train),
        trainWeightSum: weightSum(sets[arm]!.train),
      };
    };
    const run = {
      seed,
      legacyBytes,
      unboundedStoreBytes: unbounded.report.bytes,
      budget,
      stores: Object.fromEntries(bounded.map((arm) => [arm, storeOf(arm)])),
      train: { full: full.train.length, fullPositives: positives(full.train) },
      holdout: { windows: full.split.holdout.length, positives: positives(full.split.holdout) },
      trainingSeeds,
      prAuc: scores,
      prAucDiff: Object.fromEntries(bounded.map((arm) => [arm, diffs[arm]!.at(-1)])),
      fullVsFull: floor,
    };
    runs.push(run);
    console.log(`STORE-RUN ${JSON.stringify(run)}`);
    const kinds = (arm: string) => {
      const w = sets[arm]!.report!.windows;
      return `${w.near}/${w.sample}`;
    };
    rows.push([
      String(seed),
      String(legacyBytes),
      String(unbounded.report.bytes),
      bounded
        .map((arm) => `${((100 * sets[arm]!.report!.bytes) / unbounded.report.bytes).toFixed(0)}%`)
        .join(' / '),
      bounded.map(kinds).join(' / '),
      arms.map((a) => sets[a.name]!.train.length).join(' / '),
      arms.map((a) => pr(a.name).map(f3).join(', ')).join(' / '),
      bounded.map((arm) => signed(diffs[arm]!.at(-1)!)).join(' / '),
      floor.length ? f3(median(floor)) : '-',
      arms.map((a) => scores[a.name]!.reduce((n, x) => n + x.seconds, 0).toFixed(0)).join(' / '),
    ]);
  }
  const names = arms.map((a) => a.name);
  console.log(
    table(
      `Bounded sample store vs full history (${machines} machines × ${days} days, rounds of 4 days, budget ${fraction} of the gzipped-JSON store; holdout = the full history's; training seeds ${trainingSeeds.join(', ')} in every arm)`,
      [
        'data seed',
        'gzipped JSON, all (bytes)',
        'binary store, unbounded (bytes)',
        `bounded of unbounded: ${bounded.join(' / ')}`,
        `near/reservoir windows: ${bounded.join(' / ')}`,
        `train windows: ${names.join(' / ')}`,
        `holdout PR-AUC per training seed: ${names.join(' / ')}`,
        `${bounded.join(' / ')} − full`,
        'full vs full: median |Δ|',
        `training s ${names.join(' / ')}`,
      ],
      rows,
    ),
  );
  const summary = {
    /** Per data seed, the mean over training seeds of the paired difference; then every pair. */
    perSeed: Object.fromEntries(bounded.map((arm) => [arm, describe(diffs[arm]!)])),
    perPair: Object.fromEntries(bounded.map((arm) => [arm, describe(pairs[arm]!)])),
    /** The first training seed's full arm − the second's, per data seed: what a null arm's difference looks like. */
    fullVsFullSigned: nullDiffs.length ? describe(nullDiffs) : null,
    /** |full − full| over every pair of training seeds and data seed. */
    fullVsFullAbs: floors.length ? describe(floors) : null,
  };
  const line = (name: string, d: ReturnType<typeof describe>) =>
    `${name}: median ${signed(d.median)}, mean ${signed(d.mean)} ± ${d.se.toFixed(3)} (s.e.), sd ${d.sd.toFixed(3)}, range ${signed(d.min)} … ${signed(d.max)} (n ${d.n})`;
  for (const arm of bounded) {
    console.log(
      line(`PR-AUC ${arm} − full, per data seed (mean over training seeds)`, summary.perSeed[arm]!),
    );
    console.log(line(`PR-AUC ${arm} − full, per pair`, summary.perPair[arm]!));
  }
  if (summary.fullVsFullSigned)
    console.log(
      line(
        `null arm: full (seed ${trainingSeeds[0]}) − full (seed ${trainingSeeds[1]}), per data seed`,
        summary.fullVsFullSigned,
      ),
    );
  if (summary.fullVsFullAbs)
    console.log(line('|full − full| over training-seed pairs', summary.fullVsFullAbs));
  return { machines, days, fraction, trainingSeeds, arms, runs, summary };
}
