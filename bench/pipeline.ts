import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Config } from '../src/config';
import { createKafka } from '../src/kafka/client';
import { createTopics } from '../src/kafka/topics';
import { createLogger } from '../src/log';
import type { Logger } from '../src/log';
import { createMetrics } from '../src/metrics';
import type { Metrics } from '../src/metrics';
import { createRedis } from '../src/redis/client';
import { Worker } from '../src/worker';
import { registerKnownModel } from '../test/known-model';
import { dropTestResources, testConfig } from '../test/helpers';
import { reading } from './readings';
import type { ReadingPattern } from './readings';
import { median, table } from './stats';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The plain threshold rule (k = n = j = 1): the latency section needs every reading to flip an alert. */
export function benchConfig(extra: Record<string, string> = {}): Config {
  return testConfig({
    PDM_LOG_LEVEL: 'error',
    PDM_ALERT_COOLDOWN: '0ms',
    PDM_ALERT_HYSTERESIS: '0.1',
    PDM_ALERT_RAISE_K: '1',
    PDM_ALERT_WINDOW_N: '1',
    PDM_ALERT_CLEAR_J: '1',
    ...extra,
  });
}

export async function produceHistory(
  config: Config,
  machines: number,
  hours: number,
  pattern: ReadingPattern = 'flip',
): Promise<number> {
  const producer = createKafka(config).producer();
  await producer.connect();
  let n = 0;
  const batch: { key: string; value: string }[] = [];
  for (let h = 0; h < hours; h++) {
    for (let m = 0; m < machines; m++) batch.push(reading(m, h, pattern));
    if (batch.length >= 5_000 || h === hours - 1) {
      await producer.send({ topic: config.topics.readings, messages: batch.splice(0) });
    }
    n += machines;
  }
  await producer.disconnect();
  return n;
}

/** kafkajs raw consume with a no-op handler: the ceiling for anything built on it. */
export async function rawConsume(config: Config, total: number): Promise<number> {
  const consumer = createKafka(config).consumer({
    groupId: `raw-${randomUUID()}`,
    maxBytesPerPartition: 1_048_576,
  });
  await consumer.connect();
  await consumer.subscribe({ topic: config.topics.readings, fromBeginning: true });
  let seen = 0;
  let joinedAt = 0;
  consumer.on(consumer.events.GROUP_JOIN, () => {
    joinedAt = performance.now();
  });
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  await consumer.run({
    partitionsConsumedConcurrently: 4,
    eachBatch: async ({ batch }) => {
      seen += batch.messages.length;
      if (seen >= total) done();
    },
  });
  await finished;
  // Timed from the group join (fetches included), not from the first record: one fetch can carry
  // tens of thousands of records that then arrive "at once".
  const rate = seen / ((performance.now() - joinedAt) / 1000);
  await consumer.disconnect();
  return rate;
}

export async function counter(metrics: Metrics, name: 'recordsConsumed' | 'scores'): Promise<number> {
  const v = await metrics[name].get();
  return v.values.reduce((s, x) => s + x.value, 0);
}

/** Runs the real Worker in-process until `target` of the counter is reached; returns the rate from the first record. */
/** What the benches need of a worker class: this checkout's, or another's for a before/after. */
export type WorkerClass = new (
  config: Config,
  logger: Logger,
  metrics: Metrics,
) => Pick<Worker, 'start' | 'stop' | 'readiness'>;

export async function workerRate(
  config: Config,
  target: number,
  what: 'recordsConsumed' | 'scores',
  metrics: Metrics,
  Cls: WorkerClass = Worker,
): Promise<{ rate: number; rssMb: number; seconds: number }> {
  const worker = new Cls(config, createLogger('error'), metrics);
  await worker.start();
  // Timed from the group join, like the raw consumer.
  let joinedAt = 0;
  for (;;) {
    if (!joinedAt && !worker.readiness().reasons.includes('consumer not in its group'))
      joinedAt = performance.now();
    if ((await counter(metrics, what)) >= target) break;
    await sleep(2);
  }
  const seconds = (performance.now() - joinedAt) / 1000;
  const rssMb = process.memoryUsage().rss / 2 ** 20;
  await worker.stop();
  return { rate: target / seconds, rssMb, seconds };
}

/** A histogram's sum and count over all its labels. */
async function totals(metric: Metrics['scoreDuration']): Promise<{ sum: number; count: number }> {
  const values = (await metric.get()).values;
  const of = (suffix: string) =>
    values.filter((v) => v.metricName?.endsWith(suffix)).reduce((s, v) => s + v.value, 0);
  return { sum: of('_sum'), count: of('_count') };
}

export interface ScoredRun {
  /** Windows scored per second, from the group join. */
  readonly rate: number;
  readonly rssMb: number;
  /** The share of the run spent inside model calls (featurised windows → scores, on the event loop). */
  readonly modelShare: number;
  /** Microseconds of model call per window, and the mean windows per call. */
  readonly modelMicrosPerWindow: number;
  readonly meanBatch: number;
}

/** The worker scoring a history of `hours` per machine (with the known model) until every window is scored. */
export async function scoredRun(
  config: Config,
  machines: number,
  hours: number,
  pattern: ReadingPattern,
  Cls: WorkerClass = Worker,
): Promise<ScoredRun> {
  await produceHistory(config, machines, hours, pattern);
  const windows = machines * (hours - config.model.window + 1);
  const metrics = createMetrics(undefined, false);
  const run = await workerRate(config, windows, 'scores', metrics, Cls);
  const model = await totals(metrics.scoreDuration);
  const batches = await totals(metrics.scoreBatchSize);
  return {
    rate: run.rate,
    rssMb: run.rssMb,
    modelShare: model.sum / run.seconds,
    modelMicrosPerWindow: (model.sum * 1e6) / Math.max(1, batches.sum),
    meanBatch: batches.sum / Math.max(1, batches.count),
  };
}

/** Offered load at a fixed rate against a live worker; event→alert latency from the worker's own histogram observations. */
export async function latencyAtRate(
  config: Config,
  ratePerSec: number,
  seconds: number,
  machines: number,
  Cls: WorkerClass = Worker,
  pattern: ReadingPattern = 'flip',
): Promise<{
  p50: number;
  p99: number;
  samples: number;
  achieved: number;
  /** The same after the first second of offered load (which holds the first reading of every machine). */
  steady: { p50: number; p99: number; max: number; samples: number };
}> {
  const metrics = createMetrics(undefined, false);
  const samples: number[] = [];
  const observedAt: number[] = [];
  const observe = metrics.eventToAlert.observe.bind(metrics.eventToAlert);
  metrics.eventToAlert.observe = ((v: number) => {
    samples.push(v);
    observedAt.push(Date.now());
    observe(v);
  }) as typeof metrics.eventToAlert.observe;
  const worker = new Cls(config, createLogger('error'), metrics);
  await worker.start();
  const producer = createKafka(config).producer();
  await producer.connect();
  // Warm the windows first so that every measured reading is scored.
  for (let h = 0; h < config.model.window; h++)
    await producer.send({
      topic: config.topics.readings,
      messages: Array.from({ length: machines }, (_, m) => reading(m, h, pattern)),
    });
  await producer.disconnect();
  while ((await counter(metrics, 'scores')) < machines) await sleep(50);
  samples.length = 0;
  observedAt.length = 0;
  // Asynchronously: the worker in this process must keep running while the load is offered.
  const stdout = await new Promise<string>((resolve) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(__dirname, 'offered-load.ts'),
        config.kafka.brokers.join(','),
        config.topics.readings,
        String(ratePerSec),
        String(seconds),
        String(machines),
        String(config.model.window),
        pattern,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', () => resolve(out));
  });
  const achieved =
    (JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { achieved?: number }).achieved ?? NaN;
  await sleep(2000);
  await worker.stop();
  const pct = (values: readonly number[], p: number) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted.length
      ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! * 1000
      : NaN;
  };
  const steady = samples.filter((_, i) => observedAt[i]! - observedAt[0]! >= 1000);
  return {
    p50: pct(samples, 50),
    p99: pct(samples, 99),
    samples: samples.length,
    achieved,
    steady: { p50: pct(steady, 50), p99: pct(steady, 99), max: pct(steady, 100), samples: steady.length },
  };
}

/** Runs `run` on fresh topics (4 partitions) and a fresh Redis prefix, with the known model registered if `model`. */
export async function withTopics<T>(model: boolean, run: (config: Config) => Promise<T>): Promise<T> {
  const config = benchConfig();
  try {
    await createTopics(config, { partitions: 4, replication: 1 });
    if (model) {
      const redis = createRedis(config);
      await registerKnownModel(redis, config);
      redis.disconnect();
    }
    return await run(config);
  } finally {
    await dropTestResources(config);
  }
}

export async function benchPipeline(quick: boolean): Promise<Record<string, unknown>> {
  const machines = 200;
  const reps = quick ? 1 : 3;
  const ingest: number[] = [];
  const raw: number[] = [];
  const ingestHours = quick ? 150 : 500; // 200 machines × 500 h = 100k readings
  for (let r = 0; r < reps; r++) {
    const config = benchConfig();
    try {
      await createTopics(config, { partitions: 4, replication: 1 });
      const total = await produceHistory(config, machines, ingestHours);
      raw.push(await rawConsume(config, total));
      ingest.push((await workerRate(config, total, 'recordsConsumed', createMetrics(undefined, false))).rate);
    } finally {
      await dropTestResources(config);
    }
  }
  const scoreHours = quick ? 40 : 300; // 200 machines × 277 full windows: a run of several seconds
  const scored: Record<ReadingPattern, ScoredRun[]> = { flip: [], rare: [] };
  for (let r = 0; r < reps; r++)
    for (const pattern of r % 2 ? (['rare', 'flip'] as const) : (['flip', 'rare'] as const))
      scored[pattern].push(
        await withTopics(true, (config) => scoredRun(config, machines, scoreHours, pattern)),
      );
  const rss = Math.max(...[...scored.flip, ...scored.rare].map((x) => x.rssMb));
  const med = (runs: readonly ScoredRun[], k: keyof ScoredRun) => median(runs.map((x) => x[k]));
  // Issue 9's target: p99 at 5,000 readings/s offered (PDM_BENCH_RATE overrides).
  const offered = Number(process.env.PDM_BENCH_RATE ?? 5000);
  const latency = {} as Record<ReadingPattern, Awaited<ReturnType<typeof latencyAtRate>>>;
  for (const pattern of ['flip', 'rare'] as const)
    latency[pattern] = await withTopics(true, (config) =>
      latencyAtRate(config, offered, quick ? 10 : 30, machines, Worker, pattern),
    );
  const config = benchConfig();
  const out = {
    machines,
    window: config.model.window,
    textMaxLen: config.model.textMaxLen,
    rawConsumePerSec: median(raw),
    ingestPerSec: median(ingest),
    ingestVsRaw: median(ingest) / median(raw),
    scoredWindowsPerSec: med(scored.flip, 'rate'),
    scoredRareAlertsWindowsPerSec: med(scored.rare, 'rate'),
    modelShare: { flip: med(scored.flip, 'modelShare'), rare: med(scored.rare, 'modelShare') },
    modelMicrosPerWindow: {
      flip: med(scored.flip, 'modelMicrosPerWindow'),
      rare: med(scored.rare, 'modelMicrosPerWindow'),
    },
    meanScoreBatch: { flip: med(scored.flip, 'meanBatch'), rare: med(scored.rare, 'meanBatch') },
    rssMbWhileScoring: rss,
    eventToAlertMs: Object.fromEntries(
      (['flip', 'rare'] as const).map((p) => [
        p,
        {
          offeredPerSec: offered,
          achievedPerSec: latency[p].achieved,
          p50: latency[p].p50,
          p99: latency[p].p99,
          samples: latency[p].samples,
          steadyP99: latency[p].steady.p99,
        },
      ]),
    ),
    runs: { raw, ingest, scored },
  };
  console.log(
    table(
      `Pipeline (real Kafka + Redis, ${machines} machines, 4 partitions, window ${config.model.window}, text ${config.model.textMaxLen}; medians of ${reps})`,
      ['figure', 'value', 'target'],
      [
        ['kafkajs raw consume, no-op handler (msg/s)', out.rawConsumePerSec, 'ceiling'],
        ['ingest: consume+validate+join+window, scoring off (readings/s)', out.ingestPerSec, '>= 50000'],
        ['ingest / raw', out.ingestVsRaw, ''],
        ['scored end to end, every reading flips an alert (windows/s)', out.scoredWindowsPerSec, '>= 20000'],
        [
          '  of which in model calls (share; µs a window)',
          `${out.modelShare.flip.toFixed(2)}; ${out.modelMicrosPerWindow.flip.toFixed(1)}`,
          '',
        ],
        [
          'scored end to end, ~2% of windows change an alert (windows/s)',
          out.scoredRareAlertsWindowsPerSec,
          '>= 20000',
        ],
        [
          '  of which in model calls (share; µs a window; windows a call)',
          `${out.modelShare.rare.toFixed(2)}; ${out.modelMicrosPerWindow.rare.toFixed(1)}; ${Math.round(out.meanScoreBatch.rare)}`,
          '',
        ],
        ...(['flip', 'rare'] as const).flatMap((p) => {
          const l = latency[p];
          const what = `event→alert at ${Math.round(l.achieved)} readings/s, ${p === 'flip' ? 'every reading flips' : '~2% change an alert'}`;
          return [
            [`${what}: p50 (ms)`, l.p50, ''],
            [`${what}: p99 (ms)`, l.p99, '<= 20 at 5000/s'],
            [`${what}: p99 after the first second (ms)`, l.steady.p99, ''],
          ];
        }),
        ['RSS while scoring (MB)', rss, ''],
      ],
    ),
  );
  return out;
}
