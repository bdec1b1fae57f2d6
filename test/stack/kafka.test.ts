import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { createKafka } from '../../src/kafka/client';
import { eventually, testConfig, withTimeout } from '../helpers';

test('kafkajs produce → consume round trip on a fresh topic of the real broker', async () => {
  const config = testConfig();
  const kafka = createKafka(config);
  const topic = `smoke-${randomUUID()}`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
  const producer = kafka.producer({ idempotent: true });
  const consumer = kafka.consumer({ groupId: `smoke-${randomUUID()}` });
  try {
    await producer.connect();
    const sent = Array.from({ length: 50 }, (_, i) => ({ key: `m-${i % 5}`, value: JSON.stringify({ i }) }));
    await producer.send({ topic, messages: sent });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const received: number[] = [];
    await consumer.run({
      eachMessage: async ({ message }) => {
        received.push((JSON.parse(message.value!.toString()) as { i: number }).i);
      },
    });
    await eventually('all 50 messages', () => received.length === 50);
    assert.deepEqual(
      [...received].sort((a, b) => a - b),
      sent.map((_, i) => i),
    );
  } finally {
    await withTimeout('consumer disconnect', consumer.disconnect());
    await withTimeout('producer disconnect', producer.disconnect());
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await withTimeout('admin disconnect', admin.disconnect());
  }
});
