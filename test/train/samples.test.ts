import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createKafka } from '../../src/kafka/client';
import { createTopics } from '../../src/kafka/topics';
import { createLogger } from '../../src/log';
import { createRedis } from '../../src/redis/client';
import { merge, SampleStore, trim } from '../../src/train/samples';
import { readTopicsToEnd } from '../../src/train/source';
import { dropTestResources, testConfig, withTimeout } from '../helpers';

const H = 3_600_000;
const r = (m: string, h: number) => ({ machineId: m, ts: h * H, values: { v: h } });

test('merge drops duplicates by (machine, ts); trim keeps each machine’s newest span', () => {
  const a = { readings: [r('a', 1), r('a', 2)], logs: [], failures: [], invalid: {} };
  const b = {
    readings: [r('a', 2), r('a', 3), r('b', 100)],
    logs: [],
    failures: [{ machineId: 'a', ts: 0.5 * H, component: undefined }],
    invalid: {},
  };
  const m = merge(a, b);
  assert.deepEqual(
    m.readings.map((x) => `${x.machineId}${x.ts / H}`),
    ['a1', 'a2', 'a3', 'b100'],
  );
  const t = trim(m, 1.5 * H);
  assert.deepEqual(
    t.readings.map((x) => `${x.machineId}${x.ts / H}`),
    ['a2', 'a3', 'b100'],
  );
  assert.equal(t.failures.length, 0);
});

test('a second read takes only what arrived since the stored offsets; the store persists across runs', async () => {
  const config = testConfig();
  await createTopics(config, { partitions: 2, replication: 1 });
  const kafka = createKafka(config);
  const producer = kafka.producer();
  await producer.connect();
  const redis = createRedis(config);
  const send = (from: number, to: number) =>
    producer.send({
      topic: config.topics.readings,
      messages: Array.from({ length: to - from }, (_, i) => ({
        key: `m-${i % 3}`,
        value: JSON.stringify({ machineId: `m-${i % 3}`, ts: (from + i) * H, values: { v: 1 } }),
      })),
    });
  try {
    await send(0, 30);
    const logger = createLogger('warn');
    const store = new SampleStore(redis, `${config.redis.prefix}samples`, 365 * 24 * H);
    const first = await readTopicsToEnd(config, logger, (await store.load())?.offsets);
    assert.equal(first.readings.length, 30);
    await store.save(undefined, first, first.next);
    await send(30, 40);
    const stored = await store.load();
    const second = await readTopicsToEnd(config, logger, stored?.offsets);
    assert.equal(second.readings.length, 10, 'only the new records are read');
    const merged = await store.save(stored?.snapshot, second, second.next);
    assert.equal(merged.readings.length, 40);
    assert.equal((await store.load())?.snapshot.readings.length, 40);
  } finally {
    await withTimeout('producer disconnect', producer.disconnect());
    redis.disconnect();
    await dropTestResources(config);
  }
});
