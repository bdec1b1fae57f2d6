import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createKafka } from '../../src/kafka/client';
import { createTopics } from '../../src/kafka/topics';
import { createLogger } from '../../src/log';
import { createMetrics } from '../../src/metrics';
import { Worker } from '../../src/worker';
import { dropTestResources, eventually, testConfig, withTimeout } from '../helpers';

const T0 = Date.parse('2026-01-01T00:00:00Z');

test('a graceful stop during a batch finishes it and commits its offsets (kafkajs alone would skip that commit)', async () => {
  const config = testConfig({ PDM_WINDOW: '4' });
  const kafka = createKafka(config);
  const admin = kafka.admin();
  const producer = kafka.producer();
  let stopping: Promise<void> | undefined;
  let applied = 0;
  // The stop starts while the first batch is being applied: kafkajs is no longer `running` when it commits.
  const worker: Worker = new Worker(
    config,
    createLogger('warn', { test: 'drain' }),
    createMetrics(undefined, false),
    undefined,
    () => {
      applied++;
      stopping ??= worker.stop();
    },
  );
  try {
    await createTopics(config, { partitions: 1, replication: 1 });
    await admin.connect();
    await producer.connect();
    const records = Array.from({ length: 6 }, (_, h) => ({
      key: 'm-1',
      value: JSON.stringify({ machineId: 'm-1', ts: T0 + h * 3_600_000, values: { v: 0.1 } }),
    }));
    await producer.send({ topic: config.topics.readings, messages: records });
    await worker.start();
    await eventually('the stop began during a batch', () => stopping !== undefined, 60_000);
    await withTimeout('worker stop', stopping!, 30_000);
    assert.equal(worker.state, 'stopped');
    const [committed] = await admin.fetchOffsets({
      groupId: config.kafka.groupId,
      topics: [config.topics.readings],
    });
    // Every record applied (they are all in the batch in flight when the stop began) is committed.
    assert.ok(applied > 0);
    assert.equal(committed?.partitions.find((p) => p.partition === 0)?.offset, String(applied));
  } finally {
    await withTimeout('worker stop', worker.stop(), 30_000);
    await withTimeout('producer disconnect', producer.disconnect());
    await withTimeout('admin disconnect', admin.disconnect());
    await dropTestResources(config);
  }
});
