import { resolve } from 'node:path';
import { z as z4 } from 'zod/v4';
import type { Config } from '../src/config';
import { decodeReading } from '../src/ingest';
import { fastReading } from '../src/ingest/fast';
import { readingSchema } from '../src/ingest/schemas';
import { createTopics } from '../src/kafka/topics';
import { createMetrics } from '../src/metrics';
import { newMachineState } from '../src/state';
import { encodeState } from '../src/state/codec';
import { Worker } from '../src/worker';
import { dropTestResources } from '../test/helpers';
import { benchConfig, produceHistory, rawConsume, workerRate } from './pipeline';
import type { WorkerClass } from './pipeline';
import { median, table } from './stats';

/**
 * Per-worker ingest, scoring off (issue 15 item 3): what a record costs on its way in, part by part, and
 * the whole worker against raw kafkajs on the same topic. `PDM_BENCH_BEFORE=<dir of another checkout>`
 * adds that checkout's worker on the same topic in the same run, so a before/after survives a noisy machine.
 */

const ISO_TS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;
/** The reading schema of schemas.ts, written for zod 4, to measure what moving to it would buy. */
const readingSchemaV4 = z4.object({
  machineId: z4
    .string()
    .trim()
    .min(1)
    .max(200)
    .regex(/^[^\s\u0000-\u001f]+$/),
  ts: z4.union([z4.number().int().min(0).max(8.64e15), z4.string().max(64).regex(ISO_TS)]),
  values: z4
    .record(z4.string().min(1).max(100), z4.number())
    .refine((v) => Object.keys(v).length > 0 && Object.keys(v).length <= 256),
});

/** Microseconds per call, the median of `reps` passes over the inputs. */
function perCall(reps: number, inputs: readonly unknown[], f: (x: unknown, i: number) => unknown): number {
  const passes: number[] = [];
  for (let r = 0; r < reps + 1; r++) {
    const t = performance.now();
    for (let k = 0; k < 4; k++) for (let i = 0; i < inputs.length; i++) f(inputs[i], i);
    if (r > 0) passes.push(((performance.now() - t) * 1000) / (4 * inputs.length)); // the first pass warms the JIT
  }
  return median(passes);
}

function decodeParts(reps: number): { rows: (string | number)[][]; figures: Record<string, number> } {
  const T0 = Date.parse('2026-01-01T00:00:00Z');
  const docs = Array.from({ length: 5_000 }, (_, i) => ({
    machineId: `m-${i % 200}`,
    ts: new Date(T0 + i * 60_000).toISOString(),
    values: { volt: 171.2 + (i % 7), rotate: 449.1, pressure: 100.4, vibration: 40.2 - (i % 3) },
  }));
  const raws = docs.map((d) => Buffer.from(JSON.stringify(d)));
  const limits = { maxRecordBytes: 1_048_576, maxFutureSkewMs: 86_400_000, now: Date.now, requireKey: true };
  const figures = {
    jsonParse: perCall(reps, raws, (b) => JSON.parse((b as Buffer).toString('utf8'))),
    zod3: perCall(reps, docs, (d) => readingSchema.safeParse(d)),
    zod4: perCall(reps, docs, (d) => readingSchemaV4.safeParse(d)),
    handCheck: perCall(reps, docs, (d) => fastReading(d)),
    decodeReading: perCall(reps, raws, (b, i) => decodeReading(b as Buffer, docs[i]!.machineId, limits)),
  };
  const rows = [
    ['JSON.parse alone', figures.jsonParse],
    ['zod 3 schema (safeParse)', figures.zod3],
    ['zod/v4, same schema', figures.zod4],
    ['hand-written check (fast.ts)', figures.handCheck],
    ['decodeReading, whole (parse + checks + key + clock)', figures.decodeReading],
  ];
  return { rows, figures };
}

function checkpointParts(reps: number): { rows: (string | number)[][]; figures: Record<string, number> } {
  const state = newMachineState('m-00017');
  for (let i = 0; i < 24; i++)
    state.readings.push({
      ts: 1_767_225_600_000 + i * 3_600_000,
      values: { volt: 171.2 + i / 7, rotate: 449.1 - i / 3, pressure: 100.4, vibration: 40.2 + i / 11 },
    });
  state.lastScore = { ts: 1_767_225_600_000, score: 0.123456789, modelVersion: 'v-20261130-abcdef' };
  const one = Array.from({ length: 2_000 }, () => state);
  const figures = {
    jsonMicros: perCall(reps, one, (s) => JSON.stringify(s)),
    binaryMicros: perCall(reps, one, (s) => encodeState(s as typeof state)),
    jsonBytes: Buffer.byteLength(JSON.stringify(state)),
    binaryBytes: encodeState(state).length,
  };
  const rows = [
    ['checkpoint encode, JSON (µs; bytes)', `${figures.jsonMicros.toFixed(1)}; ${figures.jsonBytes}`],
    [
      'checkpoint encode, binary codec.ts (µs; bytes)',
      `${figures.binaryMicros.toFixed(1)}; ${figures.binaryBytes}`,
    ],
  ];
  return { rows, figures };
}

/** The Worker class of another checkout, for a before/after on the same topic. */
async function workerOf(dir: string): Promise<WorkerClass> {
  const mod = (await import(resolve(dir, 'src/worker'))) as { Worker: WorkerClass };
  return mod.Worker;
}

/** A second config on the same topics: its own group and Redis prefix, so it consumes everything again. */
function sameTopics(config: Config, tag: string): Config {
  const t = config.topics;
  return benchConfig({
    PDM_TOPIC_READINGS: t.readings,
    PDM_TOPIC_LOGS: t.logs,
    PDM_TOPIC_FAILURES: t.failures,
    PDM_TOPIC_ALERTS: t.alerts,
    PDM_TOPIC_DLQ: t.dlq,
    PDM_GROUP_ID: `${config.kafka.groupId}-${tag}`,
    PDM_REDIS_PREFIX: `${config.redis.prefix}${tag}:`,
  });
}

export async function benchIngest(quick: boolean): Promise<Record<string, unknown>> {
  const reps = quick ? 1 : 3;
  const machines = 200;
  // 200 machines × 5,000 h = 1M readings a run: 5–8 s, so what a run pays once (the group join, the first
  // fetch, the lag lookup of the join gate, a cold JIT: a few hundred ms) does not weigh as it did on 200k
  // readings (about 1.4 s). PDM_BENCH_INGEST_HOURS=1000 gives the shorter run.
  const hours = Number(process.env.PDM_BENCH_INGEST_HOURS ?? (quick ? 250 : 5_000));
  const beforeDir = process.env.PDM_BENCH_BEFORE;
  const workers: [string, WorkerClass][] = [['this checkout', Worker]];
  if (beforeDir) workers.push([`before (${beforeDir})`, await workerOf(beforeDir)]);
  const runs: Record<string, number[]> = {
    raw: [],
    ...Object.fromEntries(workers.map(([name]) => [name, [] as number[]])),
  };
  for (let r = 0; r < reps; r++) {
    const config = benchConfig();
    const others = workers.map((_, i) => sameTopics(config, `w${i}`));
    try {
      await createTopics(config, { partitions: 4, replication: 1 });
      const total = await produceHistory(config, machines, hours);
      runs.raw!.push(await rawConsume(config, total));
      // Alternate the order per repetition, so neither side always runs on a warmer (or busier) machine.
      const order = workers.map((w, i) => [w, others[i]!] as const);
      if (r % 2) order.reverse();
      for (const [[name, Cls], cfg] of order)
        runs[name]!.push(
          (await workerRate(cfg, total, 'recordsConsumed', createMetrics(undefined, false), Cls)).rate,
        );
    } finally {
      for (const cfg of others) await dropTestResources(cfg);
      await dropTestResources(config);
    }
  }
  const decode = decodeParts(quick ? 3 : 5);
  const checkpoint = checkpointParts(quick ? 3 : 5);
  const medians = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, median(v)]));
  const raw = medians.raw ?? NaN;
  console.log(
    table(
      `Ingest, scoring off (real Kafka + Redis, ${machines} machines, 4 partitions, ${machines * hours} readings a run; medians of ${reps})`,
      ['figure', 'value', 'target'],
      [
        ['kafkajs raw consume, no-op handler (readings/s)', raw, 'ceiling'],
        ...workers.map(([name]) => [
          `worker ingest, ${name} (readings/s)`,
          medians[name] ?? NaN,
          name === 'this checkout' ? '>= 150000' : '',
        ]),
        ...workers.map(([name]) => [`  / raw, ${name}`, (medians[name] ?? NaN) / raw, '']),
      ],
    ),
  );
  console.log(
    table(
      `Per record, 4 sensors, ISO ts (µs, medians of ${quick ? 3 : 5} passes)`,
      ['part', 'µs'],
      [...decode.rows, ...checkpoint.rows],
    ),
  );
  return {
    machines,
    readingsPerRun: machines * hours,
    medians,
    runs,
    decodeMicros: decode.figures,
    checkpoint: checkpoint.figures,
  };
}
