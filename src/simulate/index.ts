import { Partitioners } from 'kafkajs';
import type { Message, Producer } from 'kafkajs';
import { CONFIG_KEYS, parseDuration } from '../config';
import type { Config } from '../config';
import { UsageError } from '../cli/args';
import type { ParsedArgs } from '../cli/args';
import { createKafka } from '../kafka/client';
import { createLogger } from '../log';
import type { Logger } from '../log';
import { createFleet, FAILURE_MODES } from './fleet';
import type { FailureMode, Fleet, FleetTick } from './fleet';

export { createFleet, FAILURE_MODES, SENSORS, SIGNAL_PHRASES, hasSignalPhrase } from './fleet';
export type { Episode, FailureEvent, FailureMode, Fleet, FleetOptions, FleetTick, MaintenanceLog, Reading, Sensor, Signature } from './fleet';

export const SIMULATE_USAGE = `usage: pdm simulate [flags]
  --machines N          number of machines, ids m-000… (default 20)
  --seed S              integer PRNG seed; the same seed gives the same fleet (default 1)
  --rate R              readings per second in live mode (default 20)
  --duration D          stop live mode after D of wall-clock time (e.g. 10m)
  --count N             stop after N readings in all
  --history D           backfill D of event time up to now (e.g. 30d) as fast as possible, then exit
  --follow              after --history, continue in live mode instead of exiting
  --start ISO           event time of the first reading (default: now - history, or now)
  --step D              event time between two readings of a machine (default 1h, 1m…6h)
  --failure-modes LIST  comma-separated subset of ${FAILURE_MODES.join(',')} (default all)
  --degradation A-B     length of the degradation before a failure (default 24h-48h)
  --mtbf D              mean time between failures of a machine (default 12d)
  --help                this text
Without --history the simulator runs live until --duration, --count or a signal. Live event time
advances one step per N readings (at R/s), faster than the wall clock: a worker dead-letters readings
more than PDM_MAX_FUTURE_SKEW ahead of it, so start long live runs in the past (--start) or raise that.
Flags named after PDM_* settings (--topic-readings, --kafka-brokers, ...) are accepted too.`;

/** Flags that take no value; the CLI passes these to parseArgs as switches. */
export const SIMULATE_SWITCHES: readonly string[] = ['follow'];

const FLAGS = ['help', 'machines', 'seed', 'rate', 'duration', 'count', 'history', 'follow', 'start', 'step', 'failure-modes', 'degradation', 'mtbf'];

/** Messages per produce request during backfill. */
const BATCH = 1000;
const PROGRESS_EVERY_MS = 3000;

export interface SimulateOptions {
  readonly machines: number;
  readonly seed: number;
  readonly rate: number;
  readonly durationMs: number | undefined;
  readonly count: number | undefined;
  readonly historyMs: number | undefined;
  readonly follow: boolean;
  readonly start: number;
  /** End of the backfill (exclusive, epoch ms): start + history, or just past now when --start is not given. */
  readonly backfillEnd: number | undefined;
  readonly stepMs: number;
  readonly failureModes: readonly FailureMode[];
  readonly degradationMs: { readonly min: number; readonly max: number } | undefined;
  readonly mtbfMs: number | undefined;
}

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

function usage(message: string): UsageError {
  return new UsageError(`simulate: ${message}\n${SIMULATE_USAGE}`);
}

function intFlag(name: string, text: string, min: number, max: number): number {
  const value = /^-?\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) throw usage(`--${name} must be an integer in ${min}…${max}, got "${text}"`);
  return value;
}

function durationFlag(name: string, text: string, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch {
    throw usage(`--${name} must be a duration such as 90s, 10m, 24h or 30d, got "${text}"`);
  }
  if (ms < min || ms > max) throw usage(`--${name} is out of range: "${text}"`);
  return ms;
}

/** Validates the flags of `pdm simulate` (pure; `now` is the wall clock in epoch ms). */
export function parseSimulateArgs(args: ParsedArgs, now: number): SimulateOptions {
  if (args.positional.length > 0) throw usage(`unexpected argument "${args.positional[0]}"`);
  const f = args.flags;
  for (const name of Object.keys(f)) {
    if (FLAGS.includes(name)) continue;
    if (CONFIG_KEYS.includes(`PDM_${name.toUpperCase().replace(/-/g, '_')}`)) continue;
    throw usage(`unknown flag --${name}`);
  }
  const machines = f.machines === undefined ? 20 : intFlag('machines', f.machines, 1, 100_000);
  const seed = f.seed === undefined ? 1 : intFlag('seed', f.seed, -(2 ** 31), 2 ** 32 - 1);
  let rate = 20;
  if (f.rate !== undefined) {
    rate = Number(f.rate);
    if (f.rate.trim() === '' || !Number.isFinite(rate) || rate <= 0 || rate > 1_000_000) throw usage(`--rate must be a number of readings per second in (0, 1000000], got "${f.rate}"`);
  }
  const durationMs = f.duration === undefined ? undefined : durationFlag('duration', f.duration);
  const count = f.count === undefined ? undefined : intFlag('count', f.count, 1, Number.MAX_SAFE_INTEGER);
  const historyMs = f.history === undefined ? undefined : durationFlag('history', f.history, 1, 3650 * 86_400_000);
  let follow = false;
  if (f.follow !== undefined) {
    if (f.follow !== 'true' && f.follow !== 'false') throw usage(`--follow takes no value, got "${f.follow}"`);
    follow = f.follow === 'true';
  }
  if (follow && historyMs === undefined) throw usage('--follow continues live after a backfill: it needs --history');
  if (durationMs !== undefined && historyMs !== undefined && !follow) throw usage('--duration limits live mode; with --history add --follow');
  const stepMs = f.step === undefined ? 3_600_000 : durationFlag('step', f.step, 60_000, 6 * 3_600_000);

  let start: number;
  let backfillEnd: number | undefined;
  if (f.start !== undefined) {
    start = /^\d{4}-\d{2}-\d{2}/.test(f.start) ? Date.parse(f.start) : NaN;
    if (!Number.isFinite(start)) throw usage(`--start must be an ISO-8601 time such as 2026-01-01T00:00:00Z, got "${f.start}"`);
    if (historyMs !== undefined) backfillEnd = start + historyMs;
  } else {
    // Aligned to the step so timestamps read as whole hours (or minutes); the backfill runs up to now.
    start = Math.floor((now - (historyMs ?? 0)) / stepMs) * stepMs;
    if (historyMs !== undefined) backfillEnd = now + 1;
  }

  let failureModes: readonly FailureMode[] = FAILURE_MODES;
  if (f['failure-modes'] !== undefined) {
    const names = f['failure-modes'].split(',').map((s) => s.trim()).filter(Boolean);
    const bad = names.filter((n) => !(FAILURE_MODES as readonly string[]).includes(n));
    if (names.length === 0 || bad.length > 0) throw usage(`--failure-modes takes a comma list of ${FAILURE_MODES.join(',')}, got "${f['failure-modes']}"`);
    failureModes = [...new Set(names)] as FailureMode[];
  }

  let degradationMs: { min: number; max: number } | undefined;
  if (f.degradation !== undefined) {
    const parts = f.degradation.split('-');
    const a = parts[0] ?? '';
    const b = parts[1] ?? a;
    if (parts.length > 2) throw usage(`--degradation takes D or A-B, got "${f.degradation}"`);
    const min = durationFlag('degradation', a, stepMs, 30 * 86_400_000);
    const max = durationFlag('degradation', b, stepMs, 30 * 86_400_000);
    if (max < min) throw usage(`--degradation A-B needs A <= B, got "${f.degradation}"`);
    degradationMs = { min, max };
  }
  const mtbfMs = f.mtbf === undefined ? undefined : durationFlag('mtbf', f.mtbf, 3_600_000);
  return { machines, seed, rate, durationMs, count, historyMs, follow, start, backfillEnd, stepMs, failureModes, degradationMs, mtbfMs };
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
      await admin.createTopics({ waitForLeaders: true, topics: missing.map((topic) => ({ topic })) });
      logger.info('created topics', { topics: missing });
    }
    const meta = await admin.fetchTopicMetadata({ topics: [readings, logs] });
    const [a, b] = meta.topics.map((m) => m.partitions.length);
    if (a !== b) logger.warn('readings and logs topics are not co-partitioned; the worker needs them to be', { readings: a, logs: b });
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
export async function simulate(config: Config, options: SimulateOptions, signal?: AbortSignal, logger?: Logger): Promise<SimulateSummary> {
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
  const producer = createKafka(config, log, '-simulate').producer({ maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
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
      log.info('backfill', { machines: options.machines, from: new Date(options.start).toISOString(), to: new Date(end).toISOString() });
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
      const deadline = options.durationMs === undefined ? Number.POSITIVE_INFINITY : liveStart + options.durationMs;
      log.info('live', { machines: options.machines, rate: options.rate, from: new Date(fleet.nextTs).toISOString() });
      let pending: FleetTick['readings'] = [];
      let liveQueued = 0;
      while (!signal?.aborted && queued < limit && performance.now() < deadline) {
        const due = Math.min(Math.floor(((performance.now() - liveStart) * options.rate) / 1000) - liveQueued, limit - queued, BATCH);
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
 * `pdm simulate`: a synthetic fleet producing readings, logs and failures (see SIMULATE_USAGE). Stops
 * cleanly when `signal` aborts; prints a one-line JSON summary on stdout (through `write`) and returns 0.
 */
export async function runSimulate(
  config: Config,
  args: ParsedArgs,
  signal?: AbortSignal,
  write: (line: string) => void = (line) => process.stdout.write(line),
  logger?: Logger,
): Promise<number> {
  if (args.flags.help === 'true') {
    write(SIMULATE_USAGE + '\n');
    return 0;
  }
  const options = parseSimulateArgs(args, Date.now());
  const summary = await simulate(config, options, signal, logger);
  write(JSON.stringify(summary) + '\n');
  return 0;
}
