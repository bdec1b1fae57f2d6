import { spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type Redis from 'ioredis';
import { loadConfig } from '../src/config';
import type { Config } from '../src/config';
import { createKafka } from '../src/kafka/client';
import { createTopics } from '../src/kafka/topics';
import { createLogger } from '../src/log';
import { createMetrics } from '../src/metrics';
import type { Metrics } from '../src/metrics';
import { scanKeys } from '../src/redis/batch';
import { createRedis } from '../src/redis/client';
import { createFleet } from '../src/simulate';
import { CheckpointStore } from '../src/state';
import { storeSpec, TrainStore } from '../src/train/store';
import type { TopicSnapshot } from '../src/train/source';
import { Worker } from '../src/worker';
import { dropTestResources, testEnv } from '../test/helpers';
import { registerKnownModel } from '../test/known-model';
import { counter } from './pipeline';
import { table } from './stats';

/**
 * How the worker's costs grow with the fleet (issue 15 item 1): the simulator at 1k, 10k and 100k machines
 * with short histories (a window of WINDOW readings each, plus one more reading to score), then one vs two
 * worker processes in one group. Per size: ingest rate with scoring off, worker heap and RSS per tracked
 * machine, checkpoint write time per batch, Redis bytes per machine (checkpoint, sample store; the model
 * registry does not grow with machines), and scoring rate (the first score of each machine after a restart,
 * so it includes loading its checkpoint). Least-squares fits turn the sizes into per-machine costs.
 */

const WINDOW = 8;
const PARTITIONS = 4;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Progress on stderr: the section takes minutes. */
const note = (what: string, figures: Record<string, unknown> = {}) =>
  console.error(`scale: ${what} ${JSON.stringify(figures)}`);

/** A collectable heap: the bench process is not started with --expose-gc. */
function gcFunction(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

function envFor(machines: number, tag: string): Record<string, string> {
  return testEnv(
    {
      PDM_LOG_LEVEL: 'error',
      PDM_HTTP_PORT: '0',
      PDM_WINDOW: String(WINDOW),
      PDM_MAX_MACHINES: String(machines * 2),
      PDM_ALERT_COOLDOWN: '0ms',
    },
    tag,
  );
}

/** Produces `ticks` simulator ticks (one reading per machine each, and the logs of that hour). Returns the record count. */
async function produceTicks(
  config: Config,
  fleet: ReturnType<typeof createFleet>,
  ticks: number,
  snapshot?: TopicSnapshot,
): Promise<number> {
  const producer = createKafka(config).producer();
  await producer.connect();
  let n = 0;
  const pending: Promise<unknown>[] = [];
  const flush = async (topic: string, messages: { key: string; value: string }[]) => {
    for (let i = 0; i < messages.length; i += 10_000)
      pending.push(producer.send({ topic, messages: messages.slice(i, i + 10_000) }));
    if (pending.length >= 4) await Promise.all(pending.splice(0));
  };
  for (let t = 0; t < ticks; t++) {
    const tick = fleet.tick();
    await flush(
      config.topics.readings,
      tick.readings.map((r) => ({ key: r.machineId, value: JSON.stringify(r) })),
    );
    await flush(
      config.topics.logs,
      tick.logs.map((l) => ({ key: l.machineId, value: JSON.stringify(l) })),
    );
    n += tick.readings.length + tick.logs.length;
    if (snapshot) {
      for (const r of tick.readings)
        snapshot.readings.push({ machineId: r.machineId, ts: Date.parse(r.ts), values: r.values });
      for (const l of tick.logs)
        snapshot.logs.push({ machineId: l.machineId, ts: Date.parse(l.ts), text: l.text });
    }
  }
  await Promise.all(pending);
  await producer.disconnect();
  return n;
}

/** Mean `MEMORY USAGE` of up to `sample` keys matching `pattern`, and how many keys matched. */
async function bytesPerKey(
  redis: Redis,
  pattern: string,
  sample: number,
): Promise<{ mean: number; keys: number }> {
  const keys = await scanKeys(redis, pattern);
  const picked = keys.slice(0, sample);
  let total = 0;
  for (const k of picked) total += Number(await redis.call('MEMORY', 'USAGE', k, 'SAMPLES', '0'));
  return { mean: picked.length ? total / picked.length : NaN, keys: keys.length };
}

/** Times every checkpoint write of the worker in this process (a spy on the store's prototype). */
function spyOnCheckpoints(): { writes: { ms: number; states: number }[]; restore: () => void } {
  const writes: { ms: number; states: number }[] = [];
  const proto = CheckpointStore.prototype;
  const descriptor = Object.getOwnPropertyDescriptor(proto, 'save')!;
  const original = descriptor.value as CheckpointStore['save'];
  proto.save = async function (this: CheckpointStore, states) {
    const t = performance.now();
    await original.call(this, states);
    writes.push({ ms: performance.now() - t, states: states.length });
  };
  return { writes, restore: () => Object.defineProperty(proto, 'save', descriptor) };
}

async function runUntil(
  config: Config,
  metrics: Metrics,
  what: 'recordsConsumed' | 'scores',
  target: number,
): Promise<{ worker: Worker; seconds: number }> {
  const worker = new Worker(config, createLogger('error'), metrics);
  await worker.start();
  let joinedAt = 0;
  for (;;) {
    if (!joinedAt && !worker.readiness().reasons.includes('consumer not in its group'))
      joinedAt = performance.now();
    if ((await counter(metrics, what)) >= target) break;
    await sleep(5);
  }
  return { worker, seconds: (performance.now() - joinedAt) / 1000 };
}

interface SizeResult {
  machines: number;
  records: number;
  ingestPerSec: number;
  heapBytesPerMachine: number;
  rssBytesPerMachine: number;
  heapDeltaMb: number;
  rssDeltaMb: number;
  checkpointMsPerBatch: number;
  checkpointStatesPerBatch: number;
  checkpointUsPerMachine: number;
  redisCheckpointBytesPerMachine: number;
  sampleStoreBytesPerMachine: number;
  sampleStoreBytesPerReading: number;
  registryBytes: number;
  scoredPerSec: number;
}

async function oneSize(machines: number, gc: () => void): Promise<SizeResult> {
  const env = envFor(machines, `scale${machines}-${Date.now().toString(36)}`);
  const config = loadConfig(process.env, env);
  const redis = createRedis(config);
  try {
    await createTopics(config, { partitions: PARTITIONS, replication: 1 });
    const fleet = createFleet({ machines, seed: 15, start: '2026-01-01T00:00:00Z' });
    const snapshot: TopicSnapshot = { readings: [], logs: [], failures: [], invalid: {} };
    // Short histories, but enough records for a rate: at least a window, and about 100k records a size.
    const ticks = Math.max(WINDOW, Math.ceil(100_000 / machines));
    const records = await produceTicks(config, fleet, ticks, snapshot);
    // 1. ingest, scoring off (no model yet): rate, memory per machine, checkpoint writes.
    gc();
    const before = process.memoryUsage();
    const spy = spyOnCheckpoints();
    const metrics = createMetrics(undefined, false);
    const ingest = await runUntil(config, metrics, 'recordsConsumed', records);
    await sleep(200); // the last batch's checkpoint and commit
    gc();
    const after = process.memoryUsage();
    const tracked = (await metrics.machinesTracked.get()).values[0]?.value ?? machines;
    await ingest.worker.stop();
    spy.restore();
    const writes = spy.writes;
    const ckMs = writes.reduce((s, w) => s + w.ms, 0);
    const ckStates = writes.reduce((s, w) => s + w.states, 0);
    // 2. Redis bytes: checkpoints, and the trainer's sample store over the same records.
    const checkpointBytes = await bytesPerKey(redis, `${config.redis.prefix}state:*`, 500);
    const sampleKey = `${config.redis.prefix}bench:samples`;
    // The bounded store with a budget that does not bind: what it costs to hold every window.
    const store = new TrainStore(redis, sampleKey, storeSpec(config), 2 ** 40, createLogger('error'));
    store.add(snapshot);
    store.enforceBudget({});
    await store.save();
    const sampleBytes = Number(await redis.call('MEMORY', 'USAGE', sampleKey, 'SAMPLES', '0'));
    // 3. scoring: register a model, one more reading per machine, a fresh worker (restores every checkpoint).
    await registerKnownModel(redis, config, { sensor: 'volt', scaler: { mean: 170, std: 10 } });
    const registry = [
      await bytesPerKey(redis, `${config.redis.prefix}model:*`, 1_000),
      await bytesPerKey(redis, `${config.redis.prefix}vocab:*`, 1_000),
    ];
    const extra = await produceTicks(config, fleet, 1);
    const scoreMetrics = createMetrics(undefined, false);
    const scoring = await runUntil(config, scoreMetrics, 'scores', machines);
    await scoring.worker.stop();
    return {
      machines,
      records: records + extra,
      ingestPerSec: records / ingest.seconds,
      heapBytesPerMachine: (after.heapUsed - before.heapUsed) / tracked,
      rssBytesPerMachine: (after.rss - before.rss) / tracked,
      heapDeltaMb: (after.heapUsed - before.heapUsed) / 2 ** 20,
      rssDeltaMb: (after.rss - before.rss) / 2 ** 20,
      checkpointMsPerBatch: ckMs / Math.max(1, writes.length),
      checkpointStatesPerBatch: ckStates / Math.max(1, writes.length),
      checkpointUsPerMachine: (1000 * ckMs) / Math.max(1, ckStates),
      redisCheckpointBytesPerMachine: checkpointBytes.mean,
      sampleStoreBytesPerMachine: sampleBytes / machines,
      sampleStoreBytesPerReading: sampleBytes / snapshot.readings.length,
      registryBytes: registry.reduce((sum, r) => sum + r.mean * r.keys, 0),
      scoredPerSec: machines / scoring.seconds,
    };
  } finally {
    redis.disconnect();
    await dropTestResources(config);
  }
}

/** Least squares y = a + b·x: the fixed part and the per-unit cost. */
function fit(points: readonly { x: number; y: number }[]): { fixed: number; perUnit: number } {
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  const perUnit = sxx ? points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0) / sxx : NaN;
  return { fixed: my - perUnit * mx, perUnit };
}

function spawnWorker(env: Record<string, string>): ChildProcessByStdio<Writable, Readable, null> {
  return spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'scale-worker.ts')], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
}

/** Ingest rate of `count` worker processes in one group, from the moment the group is stable with all of them until the lag is 0. */
async function processesRate(
  env: Record<string, string>,
  config: Config,
  count: number,
  total: number,
): Promise<number> {
  const children = Array.from({ length: count }, () => spawnWorker(env));
  const admin = createKafka(config).admin();
  await admin.connect();
  const committed = async () => {
    const [readings] = await admin.fetchOffsets({
      groupId: config.kafka.groupId,
      topics: [config.topics.readings],
    });
    return (readings?.partitions ?? []).reduce((s, p) => s + Math.max(0, Number(p.offset)), 0);
  };
  try {
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve, reject) => {
            c.stdout.on('data', (d: Buffer) => d.toString().includes('loaded') && resolve());
            c.on('exit', (code) => reject(new Error(`a bench worker exited with ${code} before loading`)));
          }),
      ),
    );
    for (const c of children) c.stdin.write('go\n');
    let t1 = 0;
    let from = 0;
    for (;;) {
      const [group] = (await admin.describeGroups([config.kafka.groupId])).groups;
      if (group?.state === 'Stable' && group.members.length === count) {
        t1 = performance.now();
        from = await committed();
        break;
      }
      await sleep(100);
    }
    let done = from;
    let lastNote = performance.now();
    while (done < total) {
      await sleep(100);
      done = await committed();
      if (performance.now() - lastNote > 10_000) {
        lastNote = performance.now();
        note(`${count} worker process(es): committed`, { done, total });
      }
    }
    return (total - from) / ((performance.now() - t1) / 1000);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(
      children.map(
        (c) =>
          new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(undefined) : c.on('exit', r))),
      ),
    );
    await admin.disconnect();
  }
}

/** One vs two worker processes in one group over the same readings (each run its own group). */
async function workersRatio(
  machines: number,
  ticks: number,
): Promise<{ one: number; two: number; readings: number }> {
  const base = envFor(machines, `scalew-${Date.now().toString(36)}`);
  const config = loadConfig(process.env, base);
  const rates: number[] = [];
  const envs: Record<string, string>[] = [];
  try {
    await createTopics(config, { partitions: PARTITIONS, replication: 1 });
    const fleet = createFleet({ machines, seed: 15, start: '2026-01-01T00:00:00Z' });
    await produceTicks(config, fleet, ticks);
    const readings = machines * ticks;
    for (const count of [1, 2]) {
      const env = {
        ...base,
        PDM_GROUP_ID: `${base.PDM_GROUP_ID}-${count}`,
        PDM_REDIS_PREFIX: `${base.PDM_REDIS_PREFIX}${count}:`,
      };
      envs.push(env);
      rates.push(await processesRate(env, loadConfig(process.env, env), count, readings));
      note(`${count} worker process(es)`, { readingsPerSec: rates.at(-1) });
    }
    return { one: rates[0]!, two: rates[1]!, readings };
  } finally {
    // Each run's own group and Redis keys; the topics they share go with the last.
    for (const env of [...envs, base]) await dropTestResources(loadConfig(process.env, env));
  }
}

export async function benchScale(quick: boolean): Promise<Record<string, unknown>> {
  const gc = gcFunction();
  const sizes =
    process.env.PDM_BENCH_SCALE_SIZES?.split(',')
      .map(Number)
      .filter((n) => n > 0) ?? (quick ? [1_000, 10_000] : [1_000, 10_000, 100_000]);
  const results: SizeResult[] = [];
  for (const machines of sizes) {
    results.push(await oneSize(machines, gc));
    note(`${machines} machines`, { ...results.at(-1) });
  }
  const workers = await workersRatio(10_000, quick ? 10 : 30);
  if (results.length < 2) return { window: WINDOW, sizes: results, workers };
  const heap = fit(results.map((r) => ({ x: r.machines, y: r.heapDeltaMb * 2 ** 20 })));
  const rss = fit(results.map((r) => ({ x: r.machines, y: r.rssDeltaMb * 2 ** 20 })));
  const ckpt = fit(results.map((r) => ({ x: r.checkpointStatesPerBatch, y: r.checkpointMsPerBatch })));
  const fits = {
    heapBytesPerMachine: heap.perUnit,
    rssBytesPerMachine: rss.perUnit,
    checkpointMsPerBatchFixed: ckpt.fixed,
    checkpointUsPerMachineWritten: ckpt.perUnit * 1000,
    redisCheckpointBytesPerMachine: results.at(-1)!.redisCheckpointBytesPerMachine,
    sampleStoreBytesPerReading: results.at(-1)!.sampleStoreBytesPerReading,
    ingestUsPerReading: 1e6 / results[0]!.ingestPerSec,
  };
  const col = (f: (r: SizeResult) => number) => results.map(f);
  console.log(
    table(
      `Scale (simulator, window ${WINDOW}, ${PARTITIONS} partitions, one worker in this process; real Kafka + Redis)`,
      ['figure', ...sizes.map((n) => `${n / 1000}k machines`)],
      [
        ['records ingested (readings + logs)', ...col((r) => r.records)],
        ['ingest, scoring off (records/s)', ...col((r) => r.ingestPerSec)],
        ['worker heap per tracked machine (bytes)', ...col((r) => r.heapBytesPerMachine)],
        ['worker RSS per tracked machine (bytes)', ...col((r) => r.rssBytesPerMachine)],
        ['checkpoint write per batch (ms)', ...col((r) => r.checkpointMsPerBatch)],
        ['  machines written per batch', ...col((r) => r.checkpointStatesPerBatch)],
        ['  per machine written (µs)', ...col((r) => r.checkpointUsPerMachine)],
        ['Redis: checkpoint per machine (bytes)', ...col((r) => r.redisCheckpointBytesPerMachine)],
        [
          'Redis: sample store per machine, these readings (bytes)',
          ...col((r) => r.sampleStoreBytesPerMachine),
        ],
        ['Redis: sample store per reading (bytes)', ...col((r) => r.sampleStoreBytesPerReading)],
        ['Redis: model registry, whole (bytes; not per machine)', ...col((r) => r.registryBytes)],
        ['scored, first window after restart (windows/s)', ...col((r) => r.scoredPerSec)],
      ],
    ),
  );
  console.log(
    table(
      'Fits (least squares over the sizes)',
      ['cost', 'value'],
      [
        ['worker heap per machine (bytes)', fits.heapBytesPerMachine],
        ['worker RSS per machine (bytes)', fits.rssBytesPerMachine],
        ['checkpoint: fixed per batch (ms)', fits.checkpointMsPerBatchFixed],
        ['checkpoint: per machine written (µs)', fits.checkpointUsPerMachineWritten],
        ['Redis per machine, checkpoint (bytes)', fits.redisCheckpointBytesPerMachine],
        ['Redis sample store per reading kept (bytes)', fits.sampleStoreBytesPerReading],
      ],
    ),
  );
  console.log(
    table(
      `Worker processes in one group (10k machines, ${workers.readings} readings + logs, ${PARTITIONS} partitions, separate processes on a ${'shared'} 2-core machine)`,
      ['workers', 'readings/s'],
      [
        ['1', workers.one],
        ['2', workers.two],
        ['ratio 2 / 1', workers.two / workers.one],
      ],
    ),
  );
  return {
    window: WINDOW,
    partitions: PARTITIONS,
    sizes: results,
    fits,
    workers: { ...workers, ratio: workers.two / workers.one },
  };
}
