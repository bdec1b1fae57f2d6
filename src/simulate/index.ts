import { Partitioners } from 'kafkajs';
import type { Message, Producer } from 'kafkajs';
import type { Config } from '../config';
import type { ParsedArgs } from '../cli/args';
import { createKafka } from '../kafka/client';
import { createTopicsReady } from '../kafka/create';
import { createLogger } from '../log';
import type { Logger } from '../log';
import { createFleet } from './fleet';
import type { Fleet, FleetTick } from './fleet';
import { parseSimulateArgs } from './options';
import type { SimulateOptions } from './options';

export { createFleet, FAILURE_MODES, SENSORS, SIGNAL_PHRASES, hasSignalPhrase } from './fleet';
export { parseSimulateArgs, SIMULATE_FLAGS, SIMULATE_NOTES } from './options';
export type { SimulateOptions } from './options';
export type {
  Episode,
  FailureEvent,
  FailureMode,
  Fleet,
  FleetOptions,
  FleetTick,
  MaintenanceLog,
  Reading,
  Sensor,
  Signature,
} from './fleet';

/** Messages per produce request during backfill. */
const BATCH = 1000;
const PROGRESS_EVERY_MS = 3000;

export interface SimulateSummary {
  readings: number;
  logs: number;
  failures: number;
  seconds: number;
  readingsPerSecond: number;
  machines: number;
  seed: number;
  /** Event time of the first and the last reading sent (ISO), absent when none was sent. */
  from?: string;
  to?: string;
}

/** Resolves after `ms`, or at once when the signal aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Creates the three topics the simulator writes when they are missing (broker default partitions and replication). */
async function ensureTopics(config: Config, logger: Logger): Promise<void> {
  const admin = createKafka(config, logger).admin();
  await admin.connect();
  try {
    const { readings, logs, failures } = config.topics;
    const existing = new Set(await admin.listTopics());
    const missing = [readings, logs, failures].filter((t) => !existing.has(t));
    if (missing.length > 0) {
      await createTopicsReady(
        admin,
        missing.map((topic) => ({ topic })),
      );
      logger.info('created topics', { topics: missing });
    }
    const meta = await admin.fetchTopicMetadata({ topics: [readings, logs] });
    const [a, b] = meta.topics.map((m) => m.partitions.length);
    if (a !== b)
      logger.warn('readings and logs topics are not co-partitioned; the worker needs them to be', {
        readings: a,
        logs: b,
      });
  } finally {
    await admin.disconnect();
  }
}

/** Buffers messages per topic and sends them in one produce request, counting only what the broker acknowledged. */
class Outbox {
  private readings: Message[] = [];
  private logs: Message[] = [];
  private failures: Message[] = [];
  private firstTs: string | undefined;
  private lastTs: string | undefined;
  readonly sent = { readings: 0, logs: 0, failures: 0 };
  from: string | undefined;
  to: string | undefined;

  constructor(
    private readonly producer: Producer,
    private readonly topics: Config['topics'],
  ) {}

  get size(): number {
    return this.readings.length + this.logs.length + this.failures.length;
  }

  /** Logs and failures of a tick (they may precede the readings they relate to). */
  addEvents(tick: Pick<FleetTick, 'logs' | 'failures'>): void {
    for (const l of tick.logs) this.logs.push({ key: l.machineId, value: JSON.stringify(l) });
    for (const f of tick.failures) this.failures.push({ key: f.machineId, value: JSON.stringify(f) });
  }

  addReadings(readings: FleetTick['readings']): void {
    for (const r of readings) this.readings.push({ key: r.machineId, value: JSON.stringify(r) });
    const first = readings[0];
    const last = readings[readings.length - 1];
    if (first && this.firstTs === undefined) this.firstTs = first.ts;
    if (last) this.lastTs = last.ts;
  }

  async flush(): Promise<void> {
    if (this.size === 0) return;
    const batch = { readings: this.readings, logs: this.logs, failures: this.failures };
    const topicMessages = [
      { topic: this.topics.logs, messages: batch.logs },
      { topic: this.topics.failures, messages: batch.failures },
      { topic: this.topics.readings, messages: batch.readings },
    ].filter((t) => t.messages.length > 0);
    this.readings = [];
    this.logs = [];
    this.failures = [];
    await this.producer.sendBatch({ topicMessages, acks: -1 });
    this.sent.readings += batch.readings.length;
    this.sent.logs += batch.logs.length;
    this.sent.failures += batch.failures.length;
    this.from ??= this.firstTs;
    this.to = this.lastTs;
  }
}

/** Keeps only the first `n` machines' part of a tick (for --count mid-tick). */
function truncateTick(tick: FleetTick, n: number): FleetTick {
  if (n >= tick.readings.length) return tick;
  const keep = new Set(tick.readings.slice(0, n).map((r) => r.machineId));
  return {
    readings: tick.readings.slice(0, n),
    logs: tick.logs.filter((l) => keep.has(l.machineId)),
    failures: tick.failures.filter((f) => keep.has(f.machineId)),
  };
}

/**
 * Runs the simulator with already-validated options and returns what was sent. Backfill produces event
 * time [start, backfillEnd) as fast as the broker takes it, in requests of ~1000
 * messages; live mode paces readings at `rate` per second. Each topic gets each machine's events in
 * event-time order (one request in flight at a time, key = machineId).
 */
export async function simulate(
  config: Config,
  options: SimulateOptions,
  signal?: AbortSignal,
  logger?: Logger,
): Promise<SimulateSummary> {
  const log = (logger ?? createLogger(config.logLevel)).child({ stage: 'simulate' });
  const fleet: Fleet = createFleet({
    machines: options.machines,
    seed: options.seed,
    start: options.start,
    stepMs: options.stepMs,
    failureModes: options.failureModes,
    ...(options.degradationMs ? { degradationMs: options.degradationMs } : {}),
    ...(options.mtbfMs !== undefined ? { mtbfMs: options.mtbfMs } : {}),
  });
  const began = performance.now();
  const limit = options.count ?? Number.POSITIVE_INFINITY;
  await ensureTopics(config, log);
  // One request in flight and every send awaited: each machine's events stay in order in each topic, even
  // across retries. Key-hashed like the Java client (murmur2), so readings and logs of a machine land on
  // the same partition number of the co-partitioned topics.
  const producer = createKafka(config, log, '-simulate').producer({
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  const out = new Outbox(producer, config.topics);
  let queued = 0; // readings handed to the outbox
  let lastProgress = began;
  let lastProgressReadings = 0;
  const progress = (phase: string, force = false) => {
    const at = performance.now();
    if (!force && at - lastProgress < PROGRESS_EVERY_MS) return;
    const rate = ((out.sent.readings - lastProgressReadings) * 1000) / Math.max(1, at - lastProgress);
    log.info('progress', { phase, ...out.sent, readingsPerSecond: Math.round(rate), eventTime: out.to });
    lastProgress = at;
    lastProgressReadings = out.sent.readings;
  };

  try {
    if (options.backfillEnd !== undefined) {
      const end = options.backfillEnd;
      log.info('backfill', {
        machines: options.machines,
        from: new Date(options.start).toISOString(),
        to: new Date(end).toISOString(),
      });
      while (!signal?.aborted && fleet.nextTs < end && queued < limit) {
        const tick = truncateTick(fleet.tick(), limit - queued);
        out.addEvents(tick);
        out.addReadings(tick.readings);
        queued += tick.readings.length;
        if (out.size >= BATCH) {
          await out.flush();
          progress('backfill');
        }
      }
      await out.flush();
      progress('backfill', true);
    }

    if ((options.backfillEnd === undefined || options.follow) && !signal?.aborted && queued < limit) {
      const liveStart = performance.now();
      const deadline =
        options.durationMs === undefined ? Number.POSITIVE_INFINITY : liveStart + options.durationMs;
      log.info('live', {
        machines: options.machines,
        rate: options.rate,
        from: new Date(fleet.nextTs).toISOString(),
      });
      let pending: FleetTick['readings'] = [];
      let liveQueued = 0;
      while (!signal?.aborted && queued < limit && performance.now() < deadline) {
        const due = Math.min(
          Math.floor(((performance.now() - liveStart) * options.rate) / 1000) - liveQueued,
          limit - queued,
          BATCH,
        );
        let moved = 0;
        while (moved < due) {
          if (pending.length === 0) {
            const tick = fleet.tick();
            out.addEvents(tick);
            pending = tick.readings;
          }
          const take = pending.slice(0, due - moved);
          pending = pending.slice(take.length);
          out.addReadings(take);
          moved += take.length;
        }
        liveQueued += moved;
        queued += moved;
        await out.flush();
        progress('live');
        // Sleep until the next reading is due, but at least 10 ms so high rates coalesce into batches.
        const nextDue = liveStart + ((liveQueued + 1) * 1000) / options.rate;
        await sleep(Math.max(10, Math.min(nextDue, deadline) - performance.now()), signal);
      }
      await out.flush();
      progress('live', true);
    }
  } finally {
    await producer.disconnect();
  }

  const seconds = Math.round(performance.now() - began) / 1000;
  return {
    ...out.sent,
    seconds,
    readingsPerSecond: Math.round(out.sent.readings / Math.max(seconds, 0.001)),
    machines: options.machines,
    seed: options.seed,
    ...(out.from !== undefined ? { from: out.from } : {}),
    ...(out.to !== undefined ? { to: out.to } : {}),
  };
}

/**
 * `pdm simulate`: a synthetic fleet producing readings, logs and failures (flags: SIMULATE_FLAGS). Stops
 * cleanly when `signal` aborts; prints a one-line JSON summary on stdout (through `write`) and returns 0.
 */
export async function runSimulate(
  config: Config,
  args: ParsedArgs,
  signal?: AbortSignal,
  write: (line: string) => void = (line) => process.stdout.write(line),
  logger?: Logger,
): Promise<number> {
  const options = parseSimulateArgs(args, Date.now());
  const summary = await simulate(config, options, signal, logger);
  write(JSON.stringify(summary) + '\n');
  return 0;
}
