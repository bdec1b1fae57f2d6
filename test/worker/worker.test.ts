import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import Redis from 'ioredis';
import type { Consumer, Producer } from 'kafkajs';
import { applyScore } from '../../src/alerts';
import { newAlertState } from '../../src/state';
import type { Config } from '../../src/config';
import { createKafka } from '../../src/kafka/client';
import { createTopics } from '../../src/kafka/topics';
import { createLogger } from '../../src/log';
import { createMetrics } from '../../src/metrics';
import { disposeModel, tf } from '../../src/model/tf';
import { machineView, Worker } from '../../src/worker';
import { knownScore, registerKnownModel } from '../known-model';
import { eventually, testConfig, withTimeout } from '../helpers';

const H = 3_600_000;
const T0 = Date.parse('2026-01-01T00:00:00Z');

interface Out {
  alerts: Record<string, unknown>[];
  scores: Record<string, unknown>[];
  dlq: Record<string, unknown>[];
}

/** Runs the real worker against the real Kafka and Redis with a model whose scores are known. */
class Harness {
  readonly out: Out = { alerts: [], scores: [], dlq: [] };
  readonly redis: Redis;
  private readonly producer: Producer;
  private readonly observer: Consumer;
  constructor(readonly config: Config) {
    this.redis = new Redis(config.redis.url);
    const kafka = createKafka(config);
    this.producer = kafka.producer();
    this.observer = kafka.consumer({ groupId: `obs-${randomUUID()}` });
  }
  async start(): Promise<void> {
    await createTopics(this.config, { partitions: 4, replication: 1 });
    await this.producer.connect();
    await this.observer.connect();
    const t = this.config.topics;
    await this.observer.subscribe({ topics: [t.alerts, t.scores!, t.dlq], fromBeginning: true });
    await this.observer.run({
      eachMessage: async ({ topic, message }) => {
        const body = JSON.parse(message.value!.toString()) as Record<string, unknown>;
        (topic === t.alerts ? this.out.alerts : topic === t.dlq ? this.out.dlq : this.out.scores).push(body);
      },
    });
  }
  send(topic: string, records: { key: string; value: string }[]): Promise<unknown> {
    return this.producer.send({ topic, messages: records });
  }
  async stop(): Promise<void> {
    await withTimeout('observer disconnect', this.observer.disconnect());
    await withTimeout('producer disconnect', this.producer.disconnect());
    const admin = createKafka(this.config).admin();
    await admin.connect();
    const t = this.config.topics;
    await admin
      .deleteTopics({ topics: [t.readings, t.logs, t.failures, t.alerts, t.dlq, t.scores!] })
      .catch(() => undefined);
    await admin.disconnect();
    const keys = await this.redis.keys(`${this.config.redis.prefix}*`);
    if (keys.length) await this.redis.del(...keys);
    await withTimeout('redis quit', this.redis.quit());
  }
}

function startWorker(config: Config): Worker {
  const worker = new Worker(
    config,
    createLogger('warn', { test: 'worker' }),
    createMetrics(undefined, false),
  );
  return worker;
}

/** Values of sensor v per hour: a machine ramps above the threshold, then back down. */
function series(machine: number, hours: number): number[] {
  return Array.from({ length: hours }, (_, h) =>
    machine % 2 === 0 ? (h >= 10 && h < 14 ? 2.5 : 0.1 * (h % 3)) : 0.2,
  );
}

/** The alerts the contract promises for these inputs, computed offline. */
function expectedAlerts(config: Config, machines: number, hours: number, threshold: number): Set<string> {
  const out = new Set<string>();
  for (let m = 0; m < machines; m++) {
    const alert = newAlertState();
    series(m, hours).forEach((x, h) => {
      if (h < config.model.window - 1) return;
      const ts = T0 + h * H;
      const t = applyScore(alert, knownScore(x), ts, { ...config.alerts, threshold });
      if (t) out.add(`m-${m}|${new Date(ts).toISOString()}|${t}`);
    });
  }
  return out;
}

let config: Config;
let h: Harness;
before(async () => {
  config = testConfig({
    PDM_WINDOW: '4',
    PDM_LSTM_UNITS: '4',
    PDM_TEXT_LSTM_UNITS: '4',
    PDM_DENSE_UNITS: '4',
    PDM_TEXT_MAX_LEN: '8',
    PDM_VOCAB_SIZE: '50',
    PDM_TOPIC_SCORES: `s${randomUUID().slice(0, 8)}.scores`,
    PDM_ALERT_COOLDOWN: '3h',
    PDM_MODEL_POLL_INTERVAL: '200ms',
  });
  h = new Harness(config);
  await h.start();
});
after(async () => {
  await h.stop();
});

test('end to end: exact alerts and scores from a model whose scores are known; poison records dead-lettered; restart resumes state', async () => {
  const meta = await registerKnownModel(h.redis, config, { threshold: 0.5 });
  const machines = 6;
  const hours = 24;
  const readings = (from: number, to: number) =>
    Array.from({ length: machines }, (_, m) =>
      series(m, hours)
        .slice(from, to)
        .map((v, i) => ({
          key: `m-${m}`,
          value: JSON.stringify({
            machineId: `m-${m}`,
            ts: new Date(T0 + (from + i) * H).toISOString(),
            values: { v },
          }),
        })),
    ).flat();
  const worker = startWorker(config);
  await worker.start();
  try {
    await h.send(config.topics.logs, [
      {
        key: 'm-0',
        value: JSON.stringify({ machineId: 'm-0', ts: T0, text: 'Grinding noise near bearing!' }),
      },
    ]);
    await h.send(config.topics.readings, readings(0, 12));
    await h.send(config.topics.readings, [
      { key: 'p-1', value: '{not json' },
      { key: 'p-2', value: JSON.stringify({ machineId: 'p-2', ts: T0, values: { v: 'high' } }) },
      { key: 'p-3', value: `{"machineId":"p-3","ts":${T0},"values":{"v":1e999}}` },
      { key: 'p-4', value: `{"machineId":"p-4","ts":${T0},"values":{"v":1},"__proto__":{"x":1}}` },
      { key: 'm-1', value: JSON.stringify({ machineId: 'm-1', ts: T0, values: { v: 0.2 } }) }, // late: 11 h behind
      { key: 'm-1', value: JSON.stringify({ machineId: 'm-1', ts: T0 + 11 * H, values: { v: 0.2 } }) }, // duplicate ts: ignored
    ]);
    const scoredSoFar = machines * (12 - config.model.window + 1);
    await eventually('first half scored', () => h.out.scores.length >= scoredSoFar && h.out.dlq.length >= 5);
    await eventually('ready', () => worker.readiness().ready);
  } finally {
    await withTimeout('worker stop', worker.stop(), 30_000);
  }
  // A new worker (a restart) continues from the checkpoints: it scores the very next reading, no re-warm-up.
  const second = startWorker(config);
  await second.start();
  try {
    await h.send(config.topics.readings, readings(12, hours));
    const expectedScores = machines * (hours - config.model.window + 1);
    await eventually('all windows scored', () => h.out.scores.length >= expectedScores, 60_000);
    const view = await machineView(second.view, 'm-0');
    assert.equal(view?.modelVersion, meta.version);
    assert.equal(view?.windowFill, 1);
  } finally {
    await withTimeout('second worker stop', second.stop(), 30_000);
  }

  // Scores: every (machine, ts) exactly once, each equal to the known function.
  const byKey = new Map<string, number>();
  for (const s of h.out.scores) {
    const k = `${String(s.machineId)}|${String(s.ts)}`;
    assert.ok(!byKey.has(k), `scored twice: ${k}`);
    byKey.set(k, s.score as number);
  }
  assert.equal(byKey.size, machines * (hours - config.model.window + 1));
  for (const [k, score] of byKey) {
    const [m, ts] = k.split('|') as [string, string];
    const hour = (Date.parse(ts) - T0) / H;
    const x = series(Number(m.slice(2)), hours)[hour]!;
    assert.ok(Math.abs(score - knownScore(x)) < 1e-4, `${k}: ${score} vs ${knownScore(x)}`);
  }
  // Alerts: exactly the expected set, every one named with the model version; no duplicates in this run.
  const got = new Set(h.out.alerts.map((a) => `${String(a.machineId)}|${String(a.ts)}|${String(a.state)}`));
  assert.deepEqual([...got].sort(), [...expectedAlerts(config, machines, hours, 0.5)].sort());
  assert.ok(
    h.out.alerts.every(
      (a) => a.modelVersion === meta.version && typeof a.alertId === 'string' && a.threshold === 0.5,
    ),
  );
  // Explanations: the model depends on sensor v alone, so every raised alert's occlusion attribution names v
  // first (occluding it sends the score to sigmoid(b)); log words, which this model ignores, drop nothing.
  const raised = h.out.alerts.filter((a) => a.state === 'raised');
  assert.ok(raised.length > 0);
  for (const a of raised) {
    const attributions = (a.explain as { attributions: { kind: string; name: string; drop: number }[] })
      .attributions;
    assert.deepEqual([attributions[0]?.kind, attributions[0]?.name], ['sensor', 'v']);
    assert.ok(
      Math.abs(attributions[0]!.drop - ((a.score as number) - knownScore(0))) < 1e-3,
      JSON.stringify(a.explain),
    );
    assert.ok(
      attributions.slice(1).every((x) => x.kind === 'word' && Math.abs(x.drop) < 1e-3),
      JSON.stringify(a.explain),
    );
  }
  assert.ok(
    h.out.alerts
      .filter((a) => a.state === 'cleared')
      .every((a) => !('attributions' in (a.explain as object))),
  );
  // Dead letters: one per poison record, with its reason code.
  const codes = h.out.dlq.map((d) => (d.error as { code: string }).code).sort();
  assert.deepEqual(codes, ['bad_json', 'bad_shape', 'late', 'non_finite', 'unsafe_key']);
});

test('10,000 scorings leave the tensor count at its baseline', async () => {
  const { ScoreBatcher } = await import('../../src/score');
  const { ModelRegistry } = await import('../../src/registry');
  const meta = await registerKnownModel(h.redis, config, { promote: false });
  const loaded = await new ModelRegistry(h.redis, config.redis.prefix).load(meta.version);
  const batcher = new ScoreBatcher(() => loaded, 256, 5);
  const features = {
    numeric: new Float32Array(config.model.window).fill(1),
    tokens: new Int32Array(config.model.textMaxLen),
    imputed: [],
  };
  await batcher.score({ features, modelVersion: meta.version }); // warm-up creates the model's cached constants
  const baseline = tf.memory().numTensors;
  for (let round = 0; round < 10; round++) {
    const results = await Promise.all(
      Array.from({ length: 1000 }, () => batcher.score({ features, modelVersion: meta.version })),
    );
    assert.ok(results.every((r) => Math.abs(r.score - knownScore(1)) < 1e-4));
  }
  assert.equal(tf.memory().numTensors, baseline);
  disposeModel(loaded.model);
});

test('hot swaps: each score names the version that scored it, a corrupt version is refused, no tensor survives a swap', async () => {
  const { ScoreBatcher } = await import('../../src/score');
  const { ModelHolder } = await import('../../src/worker/model-holder');
  const { ModelRegistry } = await import('../../src/registry');
  const metrics = createMetrics(undefined, false);
  const holder = new ModelHolder(
    new ModelRegistry(h.redis, config.redis.prefix),
    { window: config.model.window, textMaxLen: config.model.textMaxLen },
    createLogger('error'),
    metrics,
    0,
  );
  const batcher = new ScoreBatcher(() => holder.current, 64, 2);
  const features = {
    numeric: new Float32Array(config.model.window).fill(2),
    tokens: new Int32Array(config.model.textMaxLen),
    imputed: [],
  };
  const scoreAll = () =>
    Promise.all(
      Array.from({ length: 200 }, () =>
        batcher.score({ features, modelVersion: holder.current!.meta.version }),
      ),
    );
  await registerKnownModel(h.redis, config, { threshold: 0.3 });
  await holder.sync();
  await scoreAll();
  const baseline = tf.memory().numTensors;
  const served: string[] = [];
  for (let i = 0; i < 5; i++) {
    const meta = await registerKnownModel(h.redis, config, { threshold: 0.3 + i / 20 });
    await holder.sync();
    assert.equal(holder.current?.meta.version, meta.version);
    const results = await scoreAll();
    assert.ok(
      results.every((r) => r.modelVersion === meta.version && Math.abs(r.score - knownScore(2)) < 1e-4),
    );
    served.push(meta.version);
    assert.equal(tf.memory().numTensors, baseline, `after swap to ${meta.version}`);
  }
  const corrupt = await registerKnownModel(h.redis, config, { promote: false });
  await h.redis.set(`${config.redis.prefix}model:${corrupt.version}:weights`, Buffer.from('not weights'));
  await h.redis.set(`${config.redis.prefix}model:current`, corrupt.version);
  await holder.sync();
  assert.equal(holder.current?.meta.version, served.at(-1));
  assert.equal(
    (await metrics.modelLoadFailures.get()).values.find((v) => v.labels.reason === 'hash_mismatch')?.value,
    1,
  );
  holder.dispose();
});
