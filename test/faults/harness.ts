import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  appendFileSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import Redis from 'ioredis';
import type { Admin, Kafka, Producer } from 'kafkajs';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import type { Config } from '../../src/config';
import { createKafka } from '../../src/kafka/client';
import { createTopics } from '../../src/kafka/topics';
import { SMALL_MODEL, testSetup, withTimeout } from '../helpers';
import { registerKnownModel } from '../known-model';
import { assertSeparated, expectedAlerts, generateReadings, readingMessage } from './oracle';
import type { FleetSpec, ObservedAlert, Reading } from './oracle';

/**
 * Shared machinery of the fault-injection suite: real worker processes (`node bin/pdm.js worker`), a
 * paced producer that survives a broker outage, end-of-run reads of output topics, group lag, metrics
 * scraping, the local stack's pids, and the results table (stdout + .pdm/faults-results.jsonl).
 */

export const ROOT = resolve(__dirname, '..', '..');
// The local stack's directory (PDM_STACK_DIR, as `pdm stack` uses it): its pid files name the broker and Redis
// this suite kills and freezes, so a run against a stack of its own never touches another.
const PDM_DIR = process.env.PDM_STACK_DIR ?? join(ROOT, '.pdm');
const LOG_DIR = join(PDM_DIR, 'faults');
const PID_FILE = join(LOG_DIR, 'worker-pids.json');
export const RESULTS_FILE = join(PDM_DIR, 'faults-results.jsonl');

/** The suite is long and disturbs the shared local stack: `npm test` skips it, `npm run test:faults` sets PDM_FAULTS=1. */
export const SKIP =
  process.env.PDM_FAULTS === '1' ? false : 'fault-injection suite: run it with `npm run test:faults`';

/** The known model's threshold in most scenarios (oracle.ts keeps every reading's score far from it). */
export const KNOWN_THRESHOLD = 0.52;
/** Readings per second of a streamed scenario: long enough streams for faults to land mid-stream. */
export const STREAM_RATE = 150;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
export const seconds = (ms: number) => Math.round(ms / 100) / 10;

/** The small model shape of the worker tests, so that scoring is cheap on 2 cores. */
export interface FaultEnv {
  readonly tag: string;
  readonly env: Record<string, string>;
  readonly config: Config;
}

/** testSetup for one fault test: its own topics, group and Redis prefix, the small model, env for worker processes. */
export function faultEnv(name: string, overrides: Record<string, string> = {}): FaultEnv {
  const tag = `f${name}${randomUUID().slice(0, 6)}`;
  return {
    tag,
    ...testSetup(
      {
        PDM_ALERT_COOLDOWN: '3h',
        PDM_MODEL_POLL_INTERVAL: '500ms',
        PDM_LOG_LEVEL: 'info',
        ...SMALL_MODEL,
        ...overrides,
      },
      tag,
    ),
  };
}

export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => done(port));
    });
  });
}

// ---------------------------------------------------------------- processes

const live = new Set<number>();
function rememberPids(): void {
  mkdirSync(LOG_DIR, { recursive: true });
  writeFileSync(PID_FILE, JSON.stringify([...live]));
}
function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}
/** Kills worker processes a previous, aborted run of this suite left behind (only pids it recorded, only if still `pdm.js worker`). */
export function killStrays(): void {
  if (!existsSync(PID_FILE)) return;
  let pids: number[] = [];
  try {
    pids = JSON.parse(readFileSync(PID_FILE, 'utf8')) as number[];
  } catch {
    return;
  }
  for (const pid of pids) {
    if (cmdline(pid).includes('bin/pdm.js worker')) {
      try {
        process.kill(pid, 'SIGKILL');
        process.stderr.write(`[faults] killed stray worker pid ${pid}\n`);
      } catch {
        /* gone */
      }
    }
  }
  writeFileSync(PID_FILE, '[]');
}
// Whatever happens to the test process, its workers and a stopped Redis don't outlive it.
const stoppedDaemons = new Set<number>();
process.on('exit', () => {
  for (const pid of stoppedDaemons) {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      /* gone */
    }
  }
  for (const pid of live) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});

export interface ExitRecord {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly expected: boolean;
  readonly at: number;
}

/**
 * One `pdm worker` process under a name. `supervise` restarts it (after 1 s) when it exits without the test
 * asking, as an orchestrator would; every exit is recorded.
 */
export class WorkerProc {
  child: ChildProcess | undefined;
  port = 0;
  starts = 0;
  readonly exits: ExitRecord[] = [];
  private expectingExit = false;
  private exited: Promise<ExitRecord> = Promise.resolve({ code: 0, signal: null, expected: true, at: 0 });
  supervise = false;
  private closed = false;

  constructor(
    readonly name: string,
    private readonly env: Record<string, string>,
    private readonly logName: string,
  ) {}

  /** Where the process's stdout/stderr go (appended across restarts and runs). */
  get logFile(): string {
    return join(LOG_DIR, `${this.logName}-${this.name}.log`);
  }

  private logFrom: number | undefined;
  /** What this object's processes logged (all its starts, none of earlier runs'). */
  logText(): string {
    if (this.logFrom === undefined || !existsSync(this.logFile)) return '';
    return readFileSync(this.logFile).subarray(this.logFrom).toString('utf8');
  }

  get pid(): number | undefined {
    return this.child?.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  get alive(): boolean {
    return this.pid !== undefined;
  }

  /** Unexpected exits (crashes the test did not cause). */
  get crashes(): ExitRecord[] {
    return this.exits.filter((e) => !e.expected);
  }

  async start(): Promise<void> {
    if (this.alive) throw new Error(`${this.name} is already running`);
    this.port ||= await freePort();
    mkdirSync(LOG_DIR, { recursive: true });
    const logFile = this.logFile;
    this.logFrom ??= existsSync(logFile) ? statSync(logFile).size : 0;
    appendFileSync(
      logFile,
      `\n==== start #${this.starts + 1} at ${new Date().toISOString()} port ${this.port}\n`,
    );
    const out = openSync(logFile, 'a');
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'pdm.js'), 'worker'], {
      cwd: ROOT,
      env: {
        ...process.env,
        TF_CPP_MIN_LOG_LEVEL: '2',
        ...this.env,
        PDM_HTTP_PORT: String(this.port),
        PDM_KAFKA_CLIENT_ID: `pdm-${this.name}`,
      },
      stdio: ['ignore', out, out],
    });
    closeSync(out);
    if (child.pid === undefined) throw new Error(`could not start ${this.name}`);
    this.child = child;
    this.starts++;
    this.expectingExit = false;
    live.add(child.pid);
    rememberPids();
    const pid = child.pid;
    this.exited = new Promise((done) => {
      child.once('exit', (code, signal) => {
        live.delete(pid);
        rememberPids();
        const record = { code, signal, expected: this.expectingExit, at: Date.now() };
        this.exits.push(record);
        done(record);
        if (!record.expected && this.supervise && !this.closed) {
          process.stderr.write(
            `[faults] ${this.name} exited (code ${code}, signal ${signal}); supervisor restarts it\n`,
          );
          setTimeout(() => {
            if (!this.closed && !this.alive)
              void this.start().catch((error: unknown) =>
                process.stderr.write(`[faults] restart of ${this.name} failed: ${String(error)}\n`),
              );
          }, 1_000);
        }
      });
    });
  }

  /** Sends `signal`; the exit that follows is expected. */
  kill(signal: NodeJS.Signals): void {
    const pid = this.pid;
    if (pid === undefined) return;
    this.expectingExit = true;
    process.kill(pid, signal);
  }

  /** Resolves with the exit, or undefined when the process is still running after `ms`. */
  async waitExit(ms: number): Promise<ExitRecord | undefined> {
    if (!this.child) return undefined;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)));
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async get(path: string, timeoutMs = 2_000): Promise<{ status: number; body: string } | undefined> {
    if (!this.alive) return undefined;
    try {
      const res = await fetch(`http://127.0.0.1:${this.port}${path}`, {
        signal: AbortSignal.timeout(timeoutMs),
      });
      return { status: res.status, body: await res.text() };
    } catch {
      return undefined;
    }
  }

  async isReady(): Promise<boolean> {
    return (await this.get('/readyz'))?.status === 200;
  }

  /** Waits until /readyz answers 200; false when `ms` passes first or the process exits. */
  async waitReady(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (await this.isReady()) return true;
      if (!this.alive && !this.supervise) return false;
      await sleep(200);
    }
    return false;
  }

  async metrics(): Promise<string> {
    return (await this.get('/metrics'))?.body ?? '';
  }

  /** Failed Kafka batches this object's processes logged (kafkajs re-delivers them). */
  batchErrors(): number {
    return this.logText()
      .split('\n')
      .filter((l) => l.includes('Error when calling eachBatch')).length;
  }

  /** SIGTERM (graceful drain), then SIGKILL after `graceMs`. Stops supervision. */
  async stop(graceMs = 25_000): Promise<ExitRecord | undefined> {
    this.closed = true;
    if (!this.alive) return undefined;
    this.kill('SIGTERM');
    const exit = await this.waitExit(graceMs);
    if (exit) return exit;
    this.kill('SIGKILL');
    return this.waitExit(5_000);
  }
}

/** Sums the samples of `name` whose labels include `labels` in Prometheus text. */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map<string, string>();
    for (const pair of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      have.set(pair[1]!, pair[2]!);
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) sum += Number(m[4]);
  }
  return sum;
}

// ---------------------------------------------------------------- Kafka + Redis of one test

/** Topics, Redis keys and Kafka clients of one test; `close` deletes them. */
export class Bench {
  readonly kafka: Kafka;
  readonly redis: Redis;
  readonly admin: Admin;
  private producer: Producer | undefined;

  constructor(readonly f: FaultEnv) {
    this.kafka = createKafka(f.config);
    this.redis = new Redis(f.config.redis.url, { maxRetriesPerRequest: 2 });
    this.redis.on('error', () => undefined);
    this.admin = this.kafka.admin();
  }

  get config(): Config {
    return this.f.config;
  }

  async open(partitions = 6): Promise<void> {
    await createTopics(this.config, { partitions, replication: 1 });
    await this.admin.connect();
  }

  /** An idempotent producer (one request in flight: per-key order survives retries). */
  async getProducer(): Promise<Producer> {
    if (!this.producer) {
      this.producer = this.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        retry: { retries: 5, initialRetryTime: 300, maxRetryTime: 5_000 },
      });
      await this.producer.connect();
    }
    return this.producer;
  }

  /** Sends, retrying the whole batch until it is acknowledged (a broker outage delays the stream, it does not drop it). */
  async sendReliably(
    topic: string,
    messages: { key: string | null; value: string | Buffer | null }[],
    deadlineMs = 180_000,
  ): Promise<number> {
    const deadline = Date.now() + deadlineMs;
    let failures = 0;
    for (;;) {
      try {
        const producer = await this.getProducer();
        await producer.send({ topic, messages, acks: -1 });
        return failures;
      } catch (error) {
        failures++;
        if (Date.now() > deadline) throw error;
        const stale = this.producer;
        this.producer = undefined;
        await stale?.disconnect().catch(() => undefined);
        await sleep(500);
      }
    }
  }

  /**
   * Streams `messages` to `topic` at a steady `ratePerSec` (ticks of 100 ms; what could not be sent in time,
   * while the broker was away, is caught up afterwards). `onProgress(sent)` runs after each tick (the fault schedule hooks in).
   */
  async stream(
    topic: string,
    messages: readonly { key: string; value: string }[],
    ratePerSec: number,
    onProgress?: (sent: number, elapsedMs: number) => void,
  ): Promise<{ sent: number; sendFailures: number; ms: number }> {
    const started = Date.now();
    const perTick = Math.max(1, Math.round(ratePerSec / 10));
    let sent = 0;
    let sendFailures = 0;
    while (sent < messages.length) {
      const due = Math.min(
        messages.length,
        Math.floor(((Date.now() - started) / 1000) * ratePerSec) + perTick,
      );
      if (due > sent) {
        // Large catch-up batches are split so that one request stays well under the broker's limits.
        for (let i = sent; i < due; i += 2_000)
          sendFailures += await this.sendReliably(topic, messages.slice(i, Math.min(due, i + 2_000)));
        sent = due;
        onProgress?.(sent, Date.now() - started);
      }
      await sleep(100);
    }
    return { sent, sendFailures, ms: Date.now() - started };
  }

  /** Committed-offset lag of the workers' group over readings + logs (records not yet committed). */
  async groupLag(): Promise<number> {
    const t = this.config.topics;
    const committed = await this.admin.fetchOffsets({
      groupId: this.config.kafka.groupId,
      topics: [t.readings, t.logs],
    });
    let lag = 0;
    for (const topic of [t.readings, t.logs]) {
      const offsets = await this.admin.fetchTopicOffsets(topic);
      const mine = committed.find((c) => c.topic === topic)?.partitions ?? [];
      for (const o of offsets) {
        const c = Number(mine.find((p) => p.partition === o.partition)?.offset ?? -1);
        lag += Number(o.high) - (c >= 0 ? c : Number(o.low));
      }
    }
    return lag;
  }

  /** Sum of the group's committed offsets (progress indicator). */
  async committedSum(): Promise<number> {
    const t = this.config.topics;
    const committed = await this.admin.fetchOffsets({
      groupId: this.config.kafka.groupId,
      topics: [t.readings],
    });
    return committed.flatMap((c) => c.partitions).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
  }

  /** Waits for lag 0; returns ms waited, throws after `ms`. Errors while the broker is away count as "not yet". */
  async waitLagZero(ms: number): Promise<number> {
    const started = Date.now();
    let last = NaN;
    while (Date.now() - started < ms) {
      try {
        last = await this.groupLag();
        if (last === 0) return Date.now() - started;
      } catch {
        /* broker away: keep polling */
      }
      await sleep(500);
    }
    throw new Error(`group lag still ${last} after ${seconds(ms)} s`);
  }

  /** Reads a whole topic from the beginning up to its current high watermarks. */
  async readAll<T = Record<string, unknown>>(
    topic: string,
    ms = 60_000,
  ): Promise<
    { value: T | null; raw: Buffer | null; key: string | undefined; partition: number; offset: string }[]
  > {
    const highs = new Map(
      (await this.admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.high)]),
    );
    const out: {
      value: T | null;
      raw: Buffer | null;
      key: string | undefined;
      partition: number;
      offset: string;
    }[] = [];
    const position = new Map<number, number>();
    const done = () => [...highs].every(([p, high]) => high === 0 || (position.get(p) ?? 0) >= high);
    if (done()) return out;
    const consumer = this.kafka.consumer({
      groupId: `faults-reader-${randomUUID()}`,
      maxBytesPerPartition: 10_485_760,
    });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) {
            if (Number(m.offset) >= (highs.get(batch.partition) ?? 0)) continue;
            let value: T | null = null;
            try {
              value = m.value ? (JSON.parse(m.value.toString('utf8')) as T) : null;
            } catch {
              value = null;
            }
            out.push({
              value,
              raw: m.value,
              key: m.key?.toString(),
              partition: batch.partition,
              offset: m.offset,
            });
            position.set(batch.partition, Math.max(position.get(batch.partition) ?? 0, Number(m.offset) + 1));
          }
        },
      });
      const deadline = Date.now() + ms;
      while (!done()) {
        if (Date.now() > deadline)
          throw new Error(`reading ${topic}: did not reach the high watermarks within ${seconds(ms)} s`);
        await sleep(100);
      }
      return out;
    } finally {
      await withTimeout('reader disconnect', consumer.disconnect()).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    const step = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await withTimeout(what, fn(), 30_000);
      } catch (error) {
        process.stderr.write(`[faults] cleanup: ${what}: ${(error as Error).message}\n`);
      }
    };
    await step('producer disconnect', async () => this.producer?.disconnect());
    const t = this.config.topics;
    await step('delete topics', async () => {
      await this.admin.connect();
      await this.admin.deleteTopics({
        topics: [t.readings, t.logs, t.failures, t.alerts, t.dlq, ...(t.scores ? [t.scores] : [])],
      });
    });
    await step('delete consumer groups', async () => {
      const groups = (await this.admin.listGroups()).groups
        .map((g) => g.groupId)
        .filter((g) => g === this.config.kafka.groupId);
      if (groups.length) await this.admin.deleteGroups(groups);
    });
    await step('admin disconnect', () => this.admin.disconnect());
    await step('delete redis keys', async () => {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await this.redis.scan(
          cursor,
          'MATCH',
          `${this.config.redis.prefix}*`,
          'COUNT',
          1000,
        );
        cursor = next;
        keys.push(...batch);
      } while (cursor !== '0');
      for (let i = 0; i < keys.length; i += 500) await this.redis.del(...keys.slice(i, i + 500));
    });
    await step('redis quit', () => this.redis.quit());
  }
}

// ---------------------------------------------------------------- one scenario

export interface ScenarioOptions {
  /** Names the test's topics, group and Redis prefix, and its worker logs (.pdm/faults/<name>-<worker>.log). */
  readonly name: string;
  /** PDM_* for this test on top of faultEnv's. */
  readonly env?: Record<string, string>;
  /** Worker processes to create (not started), by name. */
  readonly workers?: readonly string[];
  /** Partitions of the test's topics. */
  readonly partitions?: number;
  /** Runs first at teardown (bring a killed broker back). */
  readonly beforeCleanup?: (scenario: Scenario) => Promise<void> | void;
}

/** Readings streamed in the background at a steady rate (Bench.stream), with how far they have got. */
export class ReadingStream {
  /** The fraction of the readings sent so far. */
  progress = 0;
  done = false;
  readonly finished: Promise<{ sent: number; sendFailures: number; ms: number }>;

  constructor(bench: Bench, readings: readonly Reading[], ratePerSec: number) {
    this.finished = bench
      .stream(
        bench.config.topics.readings,
        readings.map(readingMessage),
        ratePerSec,
        (sent) => (this.progress = sent / readings.length),
      )
      .finally(() => (this.done = true));
  }

  /** Resolves once `fraction` of the readings are sent, or the stream has ended. */
  async reach(fraction: number): Promise<void> {
    while (this.progress < fraction && !this.done) await sleep(100);
  }
}

/** A known model, the readings it is fed, and the alerts computed offline from them. */
export interface KnownRun {
  readonly version: string;
  readonly threshold: number;
  readonly readings: Reading[];
  readonly expected: ReturnType<typeof expectedAlerts>;
}

export interface Scenario {
  readonly f: FaultEnv;
  readonly config: Config;
  readonly bench: Bench;
  readonly workers: readonly WorkerProc[];
  /** Registers a known model at `threshold` and computes the alerts `spec`'s readings must give under it. */
  readonly knownRun: (spec: FleetSpec, threshold: number) => Promise<KnownRun>;
  /** Starts `workers` (default all) and asserts that each is ready within `ms`. */
  readonly startWorkers: (workers?: readonly WorkerProc[], ms?: number) => Promise<void>;
  /** Every alert on the test's alerts topic so far. */
  readonly alerts: () => Promise<ObservedAlert[]>;
}

/**
 * The setup every fault test shares, in one call: stray workers of an aborted run killed, the test's own
 * topics (created) and Redis prefix, its worker processes, and a teardown registered on `t` that stops the
 * workers and deletes what the test created, whatever the test did.
 */
export async function faultScenario(t: TestContext, options: ScenarioOptions): Promise<Scenario> {
  killStrays();
  const f = faultEnv(options.name, options.env);
  const bench = new Bench(f);
  const workers = (options.workers ?? ['a', 'b']).map((w) => new WorkerProc(w, f.env, options.name));
  const scenario: Scenario = {
    f,
    config: f.config,
    bench,
    workers,
    knownRun: async (spec, threshold) => {
      const meta = await registerKnownModel(bench.redis, f.config, { threshold });
      const readings = generateReadings(spec);
      assertSeparated(readings, [threshold], f.config.alerts.hysteresis);
      const expected = expectedAlerts(readings, f.config.model.window, f.config.alerts, () => ({
        version: meta.version,
        threshold,
      }));
      return { version: meta.version, threshold, readings, expected };
    },
    startWorkers: async (which = workers, ms = 90_000) => {
      await Promise.all(which.map((w) => w.start()));
      const ready = await Promise.all(which.map((w) => w.waitReady(ms)));
      assert.deepEqual(
        ready,
        which.map(() => true),
        `workers ${which.map((w) => w.name).join(', ')} ready`,
      );
    },
    alerts: async () => (await bench.readAll<ObservedAlert>(f.config.topics.alerts)).map((m) => m.value!),
  };
  t.after(async () => {
    await options.beforeCleanup?.(scenario);
    await Promise.all(workers.map((w) => w.stop(5_000)));
    await bench.close();
  });
  await bench.open(options.partitions ?? 6);
  return scenario;
}

/**
 * One fault test: skipped unless the fault suite runs (SKIP), `minutes` at most, and its scenario set up
 * (faultScenario) before `body` runs and torn down after it, whatever happens.
 */
export function faultTest(
  title: string,
  options: ScenarioOptions & { readonly minutes: number },
  body: (scenario: Scenario) => Promise<void>,
): void {
  test(title, { skip: SKIP, timeout: options.minutes * 60_000 }, async (t) =>
    body(await faultScenario(t, options)),
  );
}

// ---------------------------------------------------------------- the local stack

function daemonPid(component: 'kafka' | 'redis', mustContain: string): number {
  const file = join(PDM_DIR, component, `${component}.pid`);
  if (!existsSync(file))
    throw new Error(`${file} is missing: start the stack with \`node bin/pdm.js stack up\``);
  const pid = Number(readFileSync(file, 'utf8').trim());
  if (!cmdline(pid).includes(mustContain))
    throw new Error(`pid ${pid} in ${file} is not the local ${component} (${mustContain})`);
  return pid;
}
export const kafkaPid = () => daemonPid('kafka', 'kafka.Kafka');
export const redisPid = () => daemonPid('redis', 'redis-server');

/** SIGSTOP a daemon; the exit handler (and `resumeDaemon`) sends SIGCONT whatever happens. */
export function pauseDaemon(pid: number): void {
  stoppedDaemons.add(pid);
  process.kill(pid, 'SIGSTOP');
}
export function resumeDaemon(pid: number): void {
  try {
    process.kill(pid, 'SIGCONT');
  } finally {
    stoppedDaemons.delete(pid);
  }
}

/** `node bin/pdm.js stack up` (reuses what answers, restarts what does not), without blocking the event loop. */
export function stackUp(timeoutMs = 180_000): Promise<{ ok: boolean; ms: number; output: string }> {
  const started = Date.now();
  return new Promise((done) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'pdm.js'), 'stack', 'up'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      done({ ok: code === 0, ms: Date.now() - started, output: output.trim() });
    });
  });
}

/** True when the broker answers a metadata request. */
export async function brokerAnswers(kafka: Kafka): Promise<boolean> {
  const admin = kafka.admin({ retry: { retries: 0 } });
  try {
    await withTimeout('broker probe', admin.connect(), 3_000);
    await withTimeout('broker probe', admin.listTopics(), 3_000);
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

// ---------------------------------------------------------------- results

export interface FaultResult {
  readonly test: string;
  readonly fault: string;
  readonly injected: number | string;
  readonly missing: number | null;
  readonly extra: number | null;
  readonly duplicated: number | null;
  readonly recoverySeconds: number | null;
  readonly pass: boolean;
  readonly notes: string;
}

export function formatTable(rows: readonly FaultResult[]): string {
  const head = ['fault', 'injected', 'missing', 'extra', 'duplicated', 'recovery (s)', 'pass', 'notes'];
  const cells = rows.map((r) => [
    r.fault,
    String(r.injected),
    String(r.missing ?? '-'),
    String(r.extra ?? '-'),
    String(r.duplicated ?? '-'),
    String(r.recoverySeconds ?? '-'),
    r.pass ? 'yes' : 'NO',
    r.notes,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

/** Prints this test's rows as a table and appends them to .pdm/faults-results.jsonl. */
export function report(rows: readonly FaultResult[]): void {
  console.log(`\n${formatTable(rows)}\n`);
  mkdirSync(PDM_DIR, { recursive: true });
  const at = new Date().toISOString();
  for (const r of rows) appendFileSync(RESULTS_FILE, `${JSON.stringify({ at, ...r })}\n`);
}
