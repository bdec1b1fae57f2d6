import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { createKafka } from '../../src/kafka/client';
import { createTopicsReady } from '../../src/kafka/create';
import { eventually, testConfig, withTimeout } from '../helpers';

test('kafkajs produce → consume round trip on a fresh topic of the real broker', async () => {
  const config = testConfig();
  const kafka = createKafka(config);
  const topic = `smoke-${randomUUID()}`;
  const admin = kafka.admin();
  await admin.connect();
  await createTopicsReady(admin, [{ topic, numPartitions: 2 }]);
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
    await withTimeout('delete topic', admin.deleteTopics({ topics: [topic] })).catch(() => undefined);
    await withTimeout('admin disconnect', admin.disconnect());
  }
});

test('topics created at once by ten clients are each ready on return: every partition has a leader', async () => {
  const config = testConfig();
  const admins = Array.from({ length: 10 }, () => createKafka(config).admin());
  const topics = admins.map(() => `ready-${randomUUID()}`);
  await Promise.all(admins.map((a) => a.connect()));
  try {
    await Promise.all(admins.map((a, i) => createTopicsReady(a, [{ topic: topics[i]!, numPartitions: 4 }])));
    const { topics: meta } = await admins[0]!.fetchTopicMetadata({ topics });
    assert.equal(meta.length, 10);
    for (const t of meta) {
      assert.equal(t.partitions.length, 4, t.name);
      assert.ok(
        t.partitions.every((p) => p.leader >= 0),
        t.name,
      );
    }
    // Creating them again leaves them as they are; asking for another partition count is an error.
    await createTopicsReady(admins[0]!, [{ topic: topics[0]!, numPartitions: 4 }]);
    await assert.rejects(
      createTopicsReady(admins[0]!, [{ topic: topics[0]!, numPartitions: 2 }]),
      /exists with 4 partitions, not the 2 asked for/,
    );
    // A refusal that cannot pass fails at once (one broker: replication 3 is impossible), naming the error.
    await assert.rejects(
      createTopicsReady(admins[0]!, [{ topic: `${topics[1]!}-r3`, numPartitions: 1, replicationFactor: 3 }]),
      (error: Error & { retriable?: boolean }) =>
        /INVALID_REPLICATION_FACTOR/.test(error.message) && error.retriable === false,
    );
  } finally {
    await withTimeout('delete topics', admins[0]!.deleteTopics({ topics })).catch(() => undefined);
    await Promise.all(admins.map((a) => withTimeout('admin disconnect', a.disconnect())));
  }
});
