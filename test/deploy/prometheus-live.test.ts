import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Redis from 'ioredis';
import type { Producer } from 'kafkajs';
import type { Config } from '../../src/config';
import { startHttp } from '../../src/http/server';
import { createKafka } from '../../src/kafka/client';
import { createTopics } from '../../src/kafka/topics';
import { createLogger } from '../../src/log';
import { createMetrics } from '../../src/metrics';
import type { Metrics } from '../../src/metrics';
import { createEvaluatorMetrics } from '../../src/evaluate';
import { ModelRegistry } from '../../src/registry';
import type { EvaluatorMetrics } from '../../src/evaluate';
import { Worker, workerHandlers } from '../../src/worker';
import { registerKnownModel } from '../known-model';
import { eventually, testConfig, withTimeout } from '../helpers';
import { RULES_FILE, dashboardQueries, referencedMetrics, ruleEntries } from './promql';

/*
 * The real Prometheus (Debian's 2.x) scrapes a real in-process Worker (real Kafka, real Redis, a served model
 * whose scores are known) and a trainer's metrics endpoint, loads deploy/prometheus/rules.yml, and every PromQL
 * expression of the Grafana dashboard and of the alert rules is evaluated through the HTTP API
 * (`GET /api/v1/query`): each must return data.
 *
 * - Scrape jobs are named `pdm-worker` and `pdm-trainer` as in deploy/prometheus/prometheus.yml, so the
 *   selectors of the rules (`up{job=~"pdm-.*"}`) and the dashboard match; scrape and rule evaluation every 1s.
 * - The trainer is NOT the real `pdm trainer` (that would need a training run in a child process over data
 *   with labelled failures): a second metrics registry from the same `createMetrics()` is served by the same
 *   `startHttp` and records what `Trainer.trigger` records after a run (`pdm_training_runs_total{outcome}`,
 *   `pdm_training_duration_seconds`), one promoted and one failed run, plus `pdm_model_age_seconds`.
 * - The evaluator (`pdm evaluator`) is likewise a registry from `createEvaluatorMetrics()` behind `startHttp`, job
 *   `pdm-evaluator`, holding what the evaluator publishes once failures are decided (recall, precision, the holdout
 *   recall, lead times, drift); the real evaluator's figures are tested in test/evaluate/evaluator.test.ts.
 * - Traffic comes in two waves a few scrapes apart (readings that raise and clear alerts, logs, poison records
 *   that are dead-lettered), so that labelled counters, which appear only on their first increment, also have
 *   a non-zero rate(): a series born at its first value gives rate() = 0 and a ratio of two such rates NaN.
 * - Range windows are not shortened: with 1s scrapes, `[1m]`, `[10m]`, `[1h]` simply cover everything since
 *   Prometheus started. Grafana's `$__rate_interval` is replaced by `1m` (promql.ts).
 * - Alert rules: an empty result of `<expr> > <threshold>` only means "not firing". So each rule expression is
 *   evaluated whole (must succeed) and split into its operands: at the top-level set operators (`and`, `or`,
 *   `unless`, with `on(...)`/`ignoring(...)`), then at the top-level comparison (`>`, `==`, ...); every side that
 *   selects a metric (not `0.05`, `3 * 86400`, `vector(0)`) must return data. `(sum(rate(x[10m])) or vector(0)) == 0` thus
 *   checks `sum(rate(x[10m]))` itself, not the `vector(0)` fallback that would always answer.
 * - "Data" means a non-empty result with at least one non-NaN sample.
 * - Prometheus' own rule evaluation is checked too: every rule of rules.yml is loaded and evaluates with
 *   health "ok".
 * - A subtest checks that the worker's `pdm_model_age_seconds` is the serving model's age (above 0), so
 *   `PdmModelStale` can fire.
 */

const PROMETHEUS = process.env.PDM_PROMETHEUS_BIN ?? 'prometheus';
const H = 3_600_000;
/** Hourly values of sensor v: raise at h4, clear at h5, raise again at h7 (past the 1h cooldown), clear at h8. */
const ALERTING = [0.1, 0.1, 0.1, 0.1, 2.5, 0.1, 0.1, 2.5, 0.1, 0.1];
const QUIET = ALERTING.map(() => 0.2);
const MACHINES = 4;
const T0 = Math.floor((Date.now() - 48 * H) / H) * H; // event time in the past: never "future"

interface PromSample {
  readonly metric?: Record<string, string>;
  readonly value?: [number, string];
  readonly values?: [number, string][];
}
interface PromResponse {
  readonly status: string;
  readonly error?: string;
  readonly data?: { resultType: string; result: PromSample[] | [number, string] };
}

let config: Config;
let redis: Redis;
let producer: Producer;
let worker: Worker | undefined;
let workerMetrics: Metrics;
let trainerMetrics: Metrics;
let evaluatorMetrics: EvaluatorMetrics;
const servers: { close: () => Promise<void> }[] = [];
let prometheus: ChildProcess | undefined;
let promLog = '';
let promUrl = '';
let scratch = '';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function promGet<T = PromResponse>(path: string): Promise<T> {
  const res = await fetch(`${promUrl}${path}`, { signal: AbortSignal.timeout(5_000) });
  return (await res.json()) as T;
}

async function query(expr: string): Promise<PromResponse> {
  return promGet(`/api/v1/query?query=${encodeURIComponent(expr)}`);
}

/** The values of an instant-query answer (vector or scalar). */
function valuesOf(r: PromResponse): number[] {
  const data = r.data;
  if (!data) return [];
  if (data.resultType === 'scalar') return [Number((data.result as [number, string])[1])];
  return (data.result as PromSample[]).map((s) => Number(s.value?.[1]));
}

/** Why an expression fails the "returns data" check, or undefined when it passes. */
async function noData(expr: string): Promise<string | undefined> {
  let r: PromResponse;
  try {
    r = await query(expr);
  } catch (error) {
    return `request failed: ${(error as Error).message}`;
  }
  if (r.status !== 'success') return `status ${r.status}: ${r.error ?? ''}`;
  const values = valuesOf(r);
  if (values.length === 0) return 'empty result';
  if (values.every((v) => Number.isNaN(v))) return `only NaN (${values.length} series)`;
  return undefined;
}

// ---- splitting an alert expression into the operands that must return data ------------------------------

/** `expr` with every bracketed part and string literal (brackets included) masked by `#`, same length. */
function mask(expr: string): string {
  let out = '';
  let depth = 0;
  let quote: string | undefined;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i]!;
    if (quote) {
      if (c === '\\') {
        out += '##';
        i++;
        continue;
      }
      if (c === quote) quote = undefined;
      out += '#';
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      quote = c;
      out += '#';
    } else if ('([{'.includes(c)) {
      depth++;
      out += '#';
    } else if (')]}'.includes(c)) {
      depth--;
      out += '#';
    } else out += depth > 0 ? '#' : c;
  }
  return out;
}

/** Cuts `expr` at the top-level matches of `re` (global), returning the pieces between them. */
function splitTop(expr: string, re: RegExp): string[] {
  const masked = mask(expr);
  const parts: string[] = [];
  let from = 0;
  for (const m of masked.matchAll(re)) {
    parts.push(expr.slice(from, m.index));
    from = m.index + m[0].length;
  }
  parts.push(expr.slice(from));
  return parts.map((p) => p.trim());
}

/** Drops parentheses around the whole expression (valid PromQL has no `(a)(b)`, so an all-masked `(…)` is one group). */
function unwrap(expr: string): string {
  let e = expr.trim();
  while (e.startsWith('(') && e.endsWith(')') && /^#+$/.test(mask(e))) e = e.slice(1, -1).trim();
  return e;
}

const SET_OPERATOR = /\s(?:and|or|unless)(?:\s+(?:on|ignoring)\s*#+)?(?=\s|#)/g;
const COMPARISON =
  /(?:==|!=|>=|<=|>|<)(?:\s*bool)?(?:\s*(?:on|ignoring)\s*#+)?(?:\s*group_(?:left|right)(?:\s*#+)?)?/g;

/** The operands of an alert expression that must return data (see the header comment). */
function dataOperands(expr: string): string[] {
  const e = unwrap(expr);
  const sets = splitTop(e, SET_OPERATOR);
  if (sets.length > 1) return sets.flatMap(dataOperands);
  const sides = splitTop(e, COMPARISON);
  if (sides.length > 1) return sides.flatMap(dataOperands);
  return referencedMetrics(e).length === 0 ? [] : [e]; // a literal: `0.05`, `3 * 86400`, `vector(0)`
}

// ---- fixtures --------------------------------------------------------------------------------------------

function reading(machine: number, hour: number): { key: string; value: string } {
  const series = machine % 2 === 0 ? ALERTING : QUIET;
  const id = `m-${machine}`;
  return {
    key: id,
    value: JSON.stringify({
      machineId: id,
      ts: new Date(T0 + hour * H).toISOString(),
      values: { v: series[hour] },
    }),
  };
}

async function sendWave(hours: readonly number[], poisonTag: string): Promise<void> {
  const t = config.topics;
  await producer.send({
    topic: t.logs,
    messages: Array.from({ length: MACHINES }, (_, m) => ({
      key: `m-${m}`,
      value: JSON.stringify({
        machineId: `m-${m}`,
        ts: T0 + hours[0]! * H,
        text: 'Grinding noise near bearing',
      }),
    })),
  });
  await producer.send({
    topic: t.readings,
    messages: hours.flatMap((h) => Array.from({ length: MACHINES }, (_, m) => reading(m, h))),
  });
  await producer.send({
    topic: t.readings,
    messages: [
      { key: `${poisonTag}-1`, value: '{not json' },
      {
        key: `${poisonTag}-2`,
        value: JSON.stringify({ machineId: `${poisonTag}-2`, ts: T0, values: { v: 'high' } }),
      },
      { key: `${poisonTag}-3`, value: `{"machineId":"${poisonTag}-3","ts":${T0},"values":{"v":1e999}}` },
    ],
  });
}

interface Readable {
  get(): Promise<{ values: { labels: object; value: number }[] }>;
}
async function counterSum(metric: Readable, labels: Record<string, string> = {}): Promise<number> {
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x))
    .reduce((a, v) => a + v.value, 0);
}

/** Until Prometheus has at least `n` more samples of `up` from both targets than it had when called. */
async function scrapes(n: number): Promise<void> {
  const count = async () => {
    const r = await query(
      'min(count_over_time(up{job=~"pdm-.*"}[10m])) and on () count(up{job=~"pdm-.*"} == 1) == 3',
    ).catch(() => undefined);
    return r ? (valuesOf(r)[0] ?? 0) : 0;
  };
  const start = await count();
  await eventually(`${n} more scrapes of both targets`, async () => (await count()) >= start + n, 20_000);
}

before(async () => {
  config = testConfig({
    PDM_WINDOW: '4',
    PDM_LSTM_UNITS: '4',
    PDM_TEXT_LSTM_UNITS: '4',
    PDM_DENSE_UNITS: '4',
    PDM_TEXT_MAX_LEN: '8',
    PDM_VOCAB_SIZE: '50',
    PDM_ALERT_COOLDOWN: '1h',
    // The waves raise and clear on single readings: the plain threshold rule (1 of 1), not the 2-of-3 default.
    PDM_ALERT_RAISE_K: '1',
    PDM_ALERT_WINDOW_N: '1',
    PDM_ALERT_CLEAR_J: '1',
    PDM_MODEL_POLL_INTERVAL: '200ms',
    // A shadow version scores too (champion/challenger): its scores go to this topic.
    PDM_TOPIC_SCORES: `s${randomUUID().slice(0, 8)}.scores`,
  });
  redis = new Redis(config.redis.url);
  await createTopics(config, { partitions: 2, replication: 1 });
  producer = createKafka(config).producer();
  await producer.connect();
  await registerKnownModel(redis, config, { threshold: 0.5 });
  const shadow = await registerKnownModel(redis, config, { promote: false, threshold: 0.4 });
  await new ModelRegistry(redis, config.redis.prefix).setShadow(shadow.version, config.model);

  // The worker and its HTTP face, wired as runWorker (src/worker/run.ts) does.
  workerMetrics = createMetrics();
  const w = new Worker(config, createLogger('warn', { test: 'prometheus-live' }), workerMetrics);
  worker = w;
  const workerHttp = await startHttp(workerHandlers(w, workerMetrics.registry), '127.0.0.1', 0);
  servers.push(workerHttp);
  // The trainer's HTTP face: a registry of its own (see the header comment).
  trainerMetrics = createMetrics();
  const trainerHttp = await startHttp(
    {
      registry: trainerMetrics.registry,
      healthy: () => true,
      ready: () => ({ ready: true, reasons: [] }),
      model: () => ({}),
    },
    '127.0.0.1',
    0,
  );
  servers.push(trainerHttp);
  const evaluatorRegistry = createMetrics().registry;
  evaluatorMetrics = createEvaluatorMetrics(evaluatorRegistry);
  const evaluatorHttp = await startHttp(
    {
      registry: evaluatorRegistry,
      healthy: () => true,
      ready: () => ({ ready: true, reasons: [] }),
      model: () => ({}),
    },
    '127.0.0.1',
    0,
  );
  servers.push(evaluatorHttp);

  scratch = mkdtempSync(join(tmpdir(), 'pdm-prometheus-live-'));
  const port = await freePort();
  promUrl = `http://127.0.0.1:${port}`;
  const configFile = join(scratch, 'prometheus.yml');
  // JSON is YAML; job names as in deploy/prometheus/prometheus.yml.
  writeFileSync(
    configFile,
    JSON.stringify({
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
      rule_files: [RULES_FILE],
      scrape_configs: [
        {
          job_name: 'pdm-worker',
          metrics_path: '/metrics',
          static_configs: [{ targets: [`127.0.0.1:${workerHttp.port}`] }],
        },
        {
          job_name: 'pdm-trainer',
          metrics_path: '/metrics',
          static_configs: [{ targets: [`127.0.0.1:${trainerHttp.port}`] }],
        },
        {
          job_name: 'pdm-evaluator',
          metrics_path: '/metrics',
          static_configs: [{ targets: [`127.0.0.1:${evaluatorHttp.port}`] }],
        },
      ],
    }),
  );
  const child = spawn(
    PROMETHEUS,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(scratch, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  prometheus = child;
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (error) =>
      reject(
        new Error(
          `cannot start ${PROMETHEUS} (${error.message}): run \`bash scripts/setup/prometheus.sh\` (Debian's prometheus)`,
        ),
      ),
    );
  });
  const keep = (chunk: Buffer) => (promLog = (promLog + chunk.toString()).slice(-8_000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  await spawned;

  await w.start();
  await eventually(
    'prometheus ready',
    async () =>
      child.exitCode === null &&
      (await fetch(`${promUrl}/-/ready`).then(
        (r) => r.ok,
        () => false,
      )),
    20_000,
  ).catch((error: Error) => {
    throw new Error(`${error.message}\n${promLog}`);
  });
  await eventually(
    'all three targets up',
    async () => {
      const r = await promGet<{ data?: { activeTargets?: { health: string }[] } }>('/api/v1/targets').catch(
        () => undefined,
      );
      const active = r?.data?.activeTargets ?? [];
      return active.length === 3 && active.every((t) => t.health === 'up');
    },
    20_000,
  );
});

after(async () => {
  const step = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await withTimeout(what, fn(), 20_000);
    } catch (error) {
      console.error(`cleanup: ${what}: ${(error as Error).message}`);
    }
  };
  const child = prometheus;
  if (child && child.exitCode === null && child.signalCode === null) {
    await step('prometheus exit', async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const hard = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(hard);
    });
  }
  if (worker) await step('worker stop', () => worker!.stop());
  for (const server of servers) await step('http close', () => server.close());
  if (producer) await step('producer disconnect', () => producer.disconnect());
  if (config) {
    await step('delete topics', async () => {
      const admin = createKafka(config).admin();
      await admin.connect();
      const t = config.topics;
      await admin
        .deleteTopics({ topics: [t.readings, t.logs, t.failures, t.alerts, t.dlq, t.scores!] })
        .catch(() => undefined);
      await admin.disconnect();
    });
  }
  if (redis) {
    await step('redis cleanup', async () => {
      const keys = await redis.keys(`${config.redis.prefix}*`);
      if (keys.length) await redis.del(...keys);
      await redis.quit();
    });
  }
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

test('splitting alert expressions into operands', () => {
  assert.deepEqual(dataOperands('up{job=~"pdm-.*"} == 0'), ['up{job=~"pdm-.*"}']);
  assert.deepEqual(dataOperands('max by (job, instance) (age) > 3 * 86400'), [
    'max by (job, instance) (age)',
  ]);
  assert.deepEqual(dataOperands('(sum(rate(a[10m])) or vector(0)) == 0\nand on ()\nsum(rate(b[10m])) > 0'), [
    'sum(rate(a[10m]))',
    'sum(rate(b[10m]))',
  ]);
  assert.deepEqual(
    dataOperands('sum(increase(a{state="raised"}[15m])) > 0.2 * sum(m) and sum(increase(a[15m])) > 10'),
    ['sum(increase(a{state="raised"}[15m]))', '0.2 * sum(m)', 'sum(increase(a[15m]))'],
  );
  assert.deepEqual(dataOperands('sum by (t) (rate(x[5m]))\n/ sum by (t) (rate(y[5m])) > 0.05'), [
    'sum by (t) (rate(x[5m]))\n/ sum by (t) (rate(y[5m]))',
  ]);
  assert.deepEqual(
    dataOperands('histogram_quantile(0.99, sum by (le) (rate(h_bucket{a="x > y"}[10m]))) > 30'),
    ['histogram_quantile(0.99, sum by (le) (rate(h_bucket{a="x > y"}[10m])))'],
  );
});

test(
  'every PromQL expression of the dashboard and of the rules returns data from a live Prometheus scraping a running worker',
  { timeout: 90_000 },
  async (t) => {
    const w = worker!;
    await eventually('worker ready (in its group, model loaded)', () => w.readiness().ready, 30_000);
    await scrapes(2); // every labelless series has samples before the traffic

    // Wave 1: readings h0–h5 (alerts raised at h4 and cleared at h5 on even machines), logs, poison records.
    await sendWave([0, 1, 2, 3, 4, 5], 'p');
    await eventually(
      'wave 1 processed',
      async () =>
        (await counterSum(workerMetrics.alerts, { state: 'cleared' })) >= MACHINES / 2 &&
        (await counterSum(workerMetrics.recordsInvalid)) >= 3,
      30_000,
    );
    // The trainer finishes a run (what Trainer.trigger records), and its serving model is 5 s old.
    trainerMetrics.trainingRuns.inc({ outcome: 'promoted' });
    trainerMetrics.trainingDuration.observe(12);
    trainerMetrics.modelAge.set(5);
    // The evaluator has decided some failures and alerts (what Evaluator.persist publishes) and has a drift window.
    const e = evaluatorMetrics;
    e.failures.inc({ version: 'v1', outcome: 'detected' }, 3);
    e.failures.inc({ version: 'v1', outcome: 'missed' });
    e.trueAlarms.inc({ version: 'v1' }, 4);
    e.falseAlarms.inc({ version: 'v1' }, 2);
    e.ignored.inc({ topic: 'failures', reason: 'duplicate' });
    for (const lead of [3_600, 7_200, 20_000]) e.leadTime.observe({ version: 'v1' }, lead);
    e.recall.set({ version: 'v1' }, 0.75);
    e.precision.set({ version: 'v1' }, 4 / 6);
    e.holdoutRecall.set({ version: 'v1' }, 0.8);
    e.falseAlarmsPerMachineDay.set({ version: 'v1' }, 0.05);
    e.pending.set({ kind: 'alerts' }, 1);
    e.pending.set({ kind: 'failures' }, 0);
    e.driftPsi.set({ sensor: 'v' }, 0.03);
    e.driftMeanShift.set({ sensor: 'v' }, 0.1);
    e.driftSamples.set({ sensor: 'v' }, 40);
    e.oovRatio.set(0.01);
    await scrapes(3);

    // Wave 2: h6–h9 (raised again at h7, cleared at h8), more logs and poison; a failed training run.
    await sendWave([6, 7, 8, 9], 'q');
    trainerMetrics.trainingRuns.inc({ outcome: 'failed' });
    trainerMetrics.trainingDuration.observe(30);
    await eventually(
      'wave 2 processed',
      async () =>
        (await counterSum(workerMetrics.alerts, { state: 'cleared' })) >= MACHINES &&
        (await counterSum(workerMetrics.recordsInvalid)) >= 6,
      30_000,
    );
    await scrapes(3); // lag refreshes every 2 s; deriv() and rate() need two samples after the change

    const checks: { source: string; expr: string; mustHaveData: boolean }[] = [];
    for (const q of dashboardQueries())
      checks.push({ source: `dashboard "${q.panel}"`, expr: q.expr, mustHaveData: true });
    const rules = ruleEntries();
    for (const r of rules) {
      checks.push({
        source: `${r.kind} ${r.name} (whole; empty = not firing)`,
        expr: r.expr,
        mustHaveData: false,
      });
      for (const operand of dataOperands(r.expr))
        checks.push({ source: `${r.kind} ${r.name} operand`, expr: operand, mustHaveData: true });
    }
    const dashboardCount = dashboardQueries().length;
    assert.ok(dashboardCount >= 15, `only ${dashboardCount} dashboard queries read`);
    assert.ok(rules.length >= 11, `only ${rules.length} rules read`);

    const failing = async (): Promise<string[]> => {
      const out: string[] = [];
      for (const c of checks) {
        if (c.mustHaveData) {
          const why = await noData(c.expr);
          if (why) out.push(`${c.source}: ${why}\n    ${c.expr.replace(/\n/g, '\n    ')}`);
        } else {
          const r = await query(c.expr).catch((error: Error): PromResponse => ({
            status: 'request failed',
            error: error.message,
          }));
          if (r.status !== 'success')
            out.push(`${c.source}: status ${r.status}: ${r.error ?? ''}\n    ${c.expr}`);
        }
      }
      return out;
    };
    // The check can fail: a metric nobody exports is "empty result".
    assert.equal(await noData('sum(rate(pdm_no_such_metric_total[1m]))'), 'empty result');
    // Retried for a few seconds: the last scrapes may still be on their way.
    let bad = await failing();
    for (let deadline = Date.now() + 10_000; bad.length > 0 && Date.now() < deadline;) {
      await new Promise((r) => setTimeout(r, 1_000));
      bad = await failing();
    }
    assert.deepEqual(bad, [], `${bad.length} of ${checks.length} expressions fail:\n${bad.join('\n')}`);
    t.diagnostic(
      `${dashboardCount} dashboard queries and ${checks.length - dashboardCount - rules.length} operands of ${rules.length} rules returned data; the ${rules.length} whole rule expressions evaluated`,
    );

    // Prometheus evaluates the shipped rules itself without error.
    type RuleState = { name: string; health: string; lastError?: string };
    let loaded: RuleState[] = [];
    await eventually(
      'rules evaluated by Prometheus',
      async () => {
        const r = await promGet<{ data: { groups: { rules: RuleState[] }[] } }>('/api/v1/rules');
        loaded = r.data.groups.flatMap((g) => g.rules);
        return loaded.length === rules.length && loaded.every((x) => x.health !== 'unknown');
      },
      10_000,
    );
    assert.deepEqual(
      loaded.filter((x) => x.health !== 'ok').map((x) => `${x.name}: ${x.health} ${x.lastError ?? ''}`),
      [],
    );
    assert.deepEqual(loaded.map((x) => x.name).sort(), rules.map((x) => x.name).sort());

    // Returning data is not enough for the model age: the worker's gauge must be the serving model's age.
    await t.test("the worker's pdm_model_age_seconds is the age of its serving model", async () => {
      const r = await query('max(pdm_model_age_seconds{job="pdm-worker"})');
      const [age] = valuesOf(r);
      assert.ok(
        age !== undefined && age > 0,
        `pdm_model_age_seconds{job="pdm-worker"} = ${age}, but the served model was registered seconds before the worker started`,
      );
    });
  },
);
