import assert from 'node:assert/strict';
import { test } from 'node:test';
import Redis from 'ioredis';
import { createKafka } from '../../src/kafka/client';
import { createTopics } from '../../src/kafka/topics';
import { createLogger } from '../../src/log';
import { createMetrics } from '../../src/metrics';
import { machineView, Worker } from '../../src/worker';
import { registerKnownModel } from '../known-model';
import { dropTestResources, eventually, SMALL_MODEL, testConfig, withTimeout } from '../helpers';

const T0 = Date.parse('2026-01-01T00:00:00Z');

test('a promoted model that is refused pauses the partitions (nothing applied or committed) until a usable one loads', async () => {
  const config = testConfig({ ...SMALL_MODEL, PDM_WINDOW: '4', PDM_MODEL_POLL_INTERVAL: '200ms' });
  const kafka = createKafka(config);
  const admin = kafka.admin();
  const producer = kafka.producer();
  const redis = new Redis(config.redis.url);
  let applied = 0;
  const worker = new Worker(
    config,
    createLogger('error', { test: 'model-gate' }),
    createMetrics(undefined, false),
    undefined,
    () => {
      applied++;
    },
  );
  const committed = async () => {
    const [t] = await admin.fetchOffsets({ groupId: config.kafka.groupId, topics: [config.topics.readings] });
    return t?.partitions.find((p) => p.partition === 0)?.offset;
  };
  try {
    await createTopics(config, { partitions: 1, replication: 1 });
    await admin.connect();
    await producer.connect();
    // A corrupt version is the current one: a model was promoted, and none can serve.
    const corrupt = await registerKnownModel(redis, config, { promote: false });
    await redis.set(`${config.redis.prefix}model:${corrupt.version}:weights`, Buffer.from('not weights'));
    await redis.set(`${config.redis.prefix}model:current`, corrupt.version);
    const records = Array.from({ length: 6 }, (_, h) => ({
      key: 'm-1',
      value: JSON.stringify({ machineId: 'm-1', ts: T0 + h * 3_600_000, values: { v: 2 } }),
    }));
    await producer.send({ topic: config.topics.readings, messages: records });
    await worker.start();
    const reasons = () => worker.readiness().reasons.join('; ');
    await eventually('readiness says the partitions are paused', () =>
      reasons().includes(`partitions paused: model ${corrupt.version} refused`),
    );
    // The worker knows the 6 records are there (its lag) and has not consumed them.
    await eventually('the lag is known', () =>
      worker.view.lag().some((e) => e.topic === config.topics.readings && e.lag === records.length),
    );
    assert.equal(applied, 0);
    assert.equal(await committed(), '-1');
    // A usable model is promoted: the worker resumes, scores every window with it and commits.
    const good = await registerKnownModel(redis, config, { threshold: 0.5 });
    await eventually(
      'every record applied and committed',
      async () => applied === records.length && (await committed()) === String(records.length),
      30_000,
    );
    const view = await machineView(worker.view, 'm-1');
    assert.equal(view?.modelVersion, good.version);
    assert.equal(view?.scoredTs, new Date(T0 + 5 * 3_600_000).toISOString());
    assert.equal(worker.readiness().ready, true, reasons());
  } finally {
    await withTimeout('worker stop', worker.stop(), 30_000);
    await withTimeout('producer disconnect', producer.disconnect());
    await withTimeout('admin disconnect', admin.disconnect());
    redis.disconnect();
    await dropTestResources(config);
  }
});
