import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ProducerBatch, RecordMetadata } from 'kafkajs';
import { SerialSender } from '../../src/kafka/serial-sender';

/** A producer that records each send and lets the test decide when (and whether) it is acknowledged. */
class HeldProducer {
  readonly sends: ProducerBatch[] = [];
  inFlight = 0;
  maxInFlight = 0;
  private pending: { ok: () => void; fail: (e: Error) => void }[] = [];

  sendBatch(batch: ProducerBatch): Promise<RecordMetadata[]> {
    this.sends.push(batch);
    this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
    return new Promise((resolve, reject) =>
      this.pending.push({
        ok: () => (this.inFlight--, resolve([])),
        fail: (e) => (this.inFlight--, reject(e)),
      }),
    );
  }

  /** Settles the oldest send, then lets the sender start its next one. */
  async settle(error?: Error): Promise<void> {
    const next = this.pending.shift();
    assert.ok(next, 'a send is in flight');
    if (error) next.fail(error);
    else next.ok();
    await new Promise((r) => setImmediate(r));
  }
}

const batch = (topic: string, ...values: string[]): ProducerBatch => ({
  acks: -1,
  topicMessages: [{ topic, messages: values.map((value) => ({ key: 'm', value })) }],
});
const values = (b: ProducerBatch | undefined) =>
  (b?.topicMessages ?? []).map((t) => `${t.topic}:${t.messages.map((m) => String(m.value)).join(',')}`);

test('one send at a time; batches queued meanwhile go out together, in order, each topic once', async () => {
  const producer = new HeldProducer();
  const sender = new SerialSender(producer);
  const first = sender.sendBatch(batch('alerts', 'a1'));
  const queued = [
    sender.sendBatch(batch('alerts', 'a2', 'a3')),
    sender.sendBatch(batch('scores', 's1')),
    sender.sendBatch(batch('alerts', 'a4')),
  ];
  assert.equal(producer.sends.length, 1);
  await producer.settle();
  await first;
  assert.equal(producer.sends.length, 2, 'the three queued batches became one send');
  assert.deepEqual(values(producer.sends[1]), ['alerts:a2,a3,a4', 'scores:s1']);
  await producer.settle();
  await Promise.all(queued);
  assert.equal(producer.maxInFlight, 1);
});

test('a failed coalesced send fails every caller in it and none queued after it', async () => {
  const producer = new HeldProducer();
  const sender = new SerialSender(producer);
  const first = sender.sendBatch(batch('alerts', 'a1'));
  const together = [sender.sendBatch(batch('alerts', 'a2')), sender.sendBatch(batch('alerts', 'a3'))];
  await producer.settle();
  await first;
  const after = sender.sendBatch(batch('alerts', 'a4'));
  const failed = Promise.all(together.map((p) => assert.rejects(p, /broker gone/)));
  await producer.settle(new Error('broker gone'));
  await failed;
  await producer.settle();
  await after;
  assert.deepEqual(values(producer.sends[2]), ['alerts:a4']);
});

test('a coalesced send stays within its record and byte bounds', async () => {
  const producer = new HeldProducer();
  const sender = new SerialSender(producer, { maxBytes: 1_000, maxRecords: 3 });
  const all = [sender.sendBatch(batch('alerts', 'x'))];
  for (let i = 0; i < 5; i++) all.push(sender.sendBatch(batch('alerts', String(i))));
  all.push(sender.sendBatch(batch('alerts', 'y'.repeat(996))));
  for (let i = 0; i < 4 && producer.sends.length > i; i++) await producer.settle();
  await Promise.all(all);
  const sizes = producer.sends.map((s) => s.topicMessages![0]!.messages.length);
  assert.deepEqual(
    sizes,
    [1, 3, 2, 1],
    'record bound 3; the 997-byte batch does not join the two 2-byte ones',
  );
});
