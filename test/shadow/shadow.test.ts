import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import Redis from 'ioredis';
import type { Consumer, Producer } from 'kafkajs';
import { applyScore } from '../../src/alerts';
import type { Config } from '../../src/config';
import { createKafka } from '../../src/kafka/client';
import { createTopics } from '../../src/kafka/topics';
import { createLogger } from '../../src/log';
import { createMetrics } from '../../src/metrics';
import type { Metrics } from '../../src/metrics';
import { ModelRegistry } from '../../src/registry';
import { newAlertState } from '../../src/state';
import { Worker } from '../../src/worker';
import { workerHandlers } from '../../src/worker/views';
import { knownScore, registerKnownModel } from '../known-model';
import { dropTestResources, eventually, SMALL_MODEL, testConfig, withTimeout } from '../helpers';

const H = 3_600_000;
const T0 = Date.parse('2026-01-01T00:00:00Z');
const MACHINES = 3;
/** Sensor v per hour: machine 0 spikes at hours 5–7, the others stay flat and low. */
const value = (m: number, h: number) => (m === 0 && h >= 5 && h < 8 ? 2.5 : 0.1);

type Body = Record<string, unknown>;

let config: Config;
let redis: Redis;
let producer: Producer;
let observer: Consumer;
const out = { alerts: [] as Body[], scores: [] as Body[] };

before(async () => {
  config = testConfig({
    ...SMALL_MODEL,
    PDM_TOPIC_SCORES: `s${randomUUID().slice(0, 8)}.scores`,
    PDM_ALERT_COOLDOWN: '3h',
    PDM_MODEL_POLL_INTERVAL: '200ms',
  });
  redis = new Redis(config.redis.url);
  await createTopics(config, { partitions: 2, replication: 1 });
  const kafka = createKafka(config);
  producer = kafka.producer();
  observer = kafka.consumer({ groupId: `obs-${randomUUID()}` });
  await Promise.all([producer.connect(), observer.connect()]);
  await observer.subscribe({ topics: [config.topics.alerts, config.topics.scores!], fromBeginning: true });
  await observer.run({
    eachMessage: async ({ topic, message }) => {
      const body = JSON.parse(message.value!.toString()) as Body;
      (topic === config.topics.alerts ? out.alerts : out.scores).push(body);
    },
  });
});

after(async () => {
  await withTimeout('observer disconnect', observer.disconnect());
  await withTimeout('producer disconnect', producer.disconnect());
  await withTimeout('redis quit', redis.quit());
  await dropTestResources(config);
});

function readings(from: number, to: number) {
  return Array.from({ length: MACHINES }, (_, m) =>
    Array.from({ length: to - from }, (_, i) => ({
      key: `m-${m}`,
      value: JSON.stringify({
        machineId: `m-${m}`,
        ts: new Date(T0 + (from + i) * H).toISOString(),
        values: { v: value(m, from + i) },
      }),
    })),
  ).flat();
}

/** The raises the worker's alert policy gives a score function over [window−1, hours). */
function raises(score: (x: number) => number, threshold: number, hours: number): string[] {
  const got: string[] = [];
  for (let m = 0; m < MACHINES; m++) {
    const alert = newAlertState();
    for (let h = config.model.window - 1; h < hours; h++)
      if (applyScore(alert, score(value(m, h)), T0 + h * H, { ...config.alerts, threshold }) === 'raised')
        got.push(`m-${m}|${new Date(T0 + h * H).toISOString()}`);
  }
  return got.sort();
}

async function counter(metrics: Metrics, name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
  const sample = metric?.values.find((v) =>
    Object.entries(labels).every(([k, val]) => (v.labels as Record<string, unknown>)[k] === val),
  );
  return sample?.value ?? 0;
}

test('shadow scores go to the scores topic tagged with their role and never alert; a refused shadow leaves the champion serving', async () => {
  // The champion scores v; the challenger scores v + 1 (its scaler's mean is −1), so it would raise on every machine.
  const champion = await registerKnownModel(redis, config, { threshold: 0.5 });
  const challenger = await registerKnownModel(redis, config, {
    promote: false,
    threshold: 0.5,
    scaler: { mean: -1, std: 1 },
  });
  const registry = new ModelRegistry(redis, config.redis.prefix);
  await registry.setShadow(challenger.version, config.model);
  const metrics = createMetrics(undefined, false);
  const worker = new Worker(config, createLogger('warn', { test: 'shadow' }), metrics);
  await worker.start();
  const hours = 10;
  const windows = MACHINES * (hours - config.model.window + 1);
  try {
    await producer.send({ topic: config.topics.readings, messages: readings(0, hours) });
    await eventually('every window scored by both', () => out.scores.length >= 2 * windows);
    const view = (await fetchModelView(worker)) as { version: string; shadow: { version: string } | null };
    assert.equal(view.version, champion.version);
    assert.equal(view.shadow?.version, challenger.version, '/model shows the shadow');

    const byRole = (role: string) => out.scores.filter((s) => s.role === role);
    assert.equal(byRole('champion').length, windows);
    assert.equal(byRole('shadow').length, windows);
    assert.ok(byRole('champion').every((s) => s.modelVersion === champion.version));
    assert.ok(byRole('shadow').every((s) => s.modelVersion === challenger.version));
    for (const s of byRole('shadow')) {
      const [m, h] = [Number(String(s.machineId).slice(2)), (Date.parse(String(s.ts)) - T0) / H];
      assert.ok(Math.abs((s.score as number) - knownScore(value(m, h) + 1)) < 1e-4, JSON.stringify(s));
    }
    assert.equal(await counter(metrics, 'pdm_shadow_scores_total', { version: challenger.version }), windows);

    // Alerts: the champion's alone, exactly as its scores give them, although the shadow's would raise more.
    const shadowWouldRaise = raises((x) => knownScore(x + 1), challenger.threshold, hours);
    const championRaises = raises(knownScore, champion.threshold, hours);
    assert.ok(shadowWouldRaise.length > championRaises.length && championRaises.length > 0);
    await eventually('the champion alerts', () => out.alerts.length >= championRaises.length);
    assert.ok(out.alerts.every((a) => a.modelVersion === champion.version));
    const raised = out.alerts
      .filter((a) => a.state === 'raised')
      .map((a) => `${String(a.machineId)}|${String(a.ts)}`);
    assert.deepEqual(raised.sort(), championRaises);

    // A shadow pointer the worker must refuse (set behind the CLI's back): counted, logged, not scored.
    await redis.set(`${config.redis.prefix}model:shadow`, 'v999');
    await eventually(
      'the shadow refused',
      async () => (await counter(metrics, 'pdm_model_load_failures_total', { reason: 'missing' })) >= 1,
    );
    await registry.clearShadow();
    await eventually('the shadow unloaded', async () => {
      const model = (await fetchModelView(worker)) as { shadow: unknown };
      return model.shadow === null;
    });
    const before = out.scores.length;
    await producer.send({ topic: config.topics.readings, messages: readings(hours, hours + 2) });
    await eventually('the champion keeps scoring', () => out.scores.length >= before + 2 * MACHINES);
    await new Promise((r) => setTimeout(r, 300));
    const after = out.scores.slice(before);
    assert.equal(after.length, 2 * MACHINES, 'no shadow scores any more');
    assert.ok(after.every((s) => s.modelVersion === champion.version && s.role === undefined));
  } finally {
    await withTimeout('worker stop', worker.stop(), 30_000);
  }
});

/** The worker's `/model` view, through the same handlers the HTTP server uses. */
function fetchModelView(worker: Worker): unknown {
  return workerHandlers(worker, createMetrics(undefined, false).registry).model();
}
