import assert from 'node:assert/strict';
import net from 'node:net';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import type { ISocketFactory, Producer, ProducerBatch, RecordMetadata } from 'kafkajs';
import { createTopicsReady } from '../../src/kafka/create';
import { SerialSender } from '../../src/kafka/serial-sender';
import { testConfig, withTimeout } from '../helpers';
import { report } from './harness';
import type { FaultResult } from './harness';

/**
 * Issue finding: can concurrent sendBatch calls on one idempotent producer lose or reorder a record after a
 * failed request? The failure injected is the one that matters: the broker writes a batch but the client
 * never sees the answer (the connection drops after the produce request went out).
 */
const config = testConfig();
const brokers = [...config.kafka.brokers];
const topics: string[] = [];
const PRODUCE = 0; // Kafka API key of Produce requests

/** A socket factory that, when armed, lets the next produce request reach the broker and then drops the connection before its answer. */
function droppingSockets(): { factory: ISocketFactory; arm: () => void; closeAll: () => void } {
  let armed = false;
  const sockets = new Set<net.Socket>();
  const factory: ISocketFactory = ({ host, port, onConnect }) => {
    const socket = net.connect({ host, port }, onConnect);
    sockets.add(socket);
    let swallowing = false;
    const write = socket.write.bind(socket) as (chunk: Buffer, cb?: () => void) => boolean;
    socket.write = (chunk: Buffer, ...rest: unknown[]) => {
      if (armed && Buffer.isBuffer(chunk) && chunk.length > 6 && chunk.readInt16BE(4) === PRODUCE) {
        armed = false;
        swallowing = true; // the broker gets the request; its answer is never delivered
        setTimeout(
          () => socket.destroy(new Error('injected: connection dropped before the produce answer')),
          200,
        );
      }
      return write(chunk, ...(rest as [() => void]));
    };
    const emit = socket.emit.bind(socket);
    socket.emit = ((event: string, ...args: unknown[]) =>
      swallowing && event === 'data' ? true : emit(event, ...args)) as typeof socket.emit;
    return socket;
  };
  // kafkajs can leave a connection it reopened during the retry open after disconnect(): close them all.
  const closeAll = () => sockets.forEach((s) => s.destroy());
  return { factory, arm: () => (armed = true), closeAll };
}

async function freshTopic(kafka: Kafka): Promise<string> {
  const topic = `${config.topics.alerts}.idem${topics.length}`;
  topics.push(topic);
  const admin = kafka.admin();
  await admin.connect();
  await createTopicsReady(admin, [{ topic, numPartitions: 1 }]);
  await admin.disconnect();
  return topic;
}

async function readAll(kafka: Kafka, topic: string, expectAtLeast: number): Promise<string[]> {
  const consumer = kafka.consumer({ groupId: `${config.kafka.groupId}.${topic}` });
  const seen: string[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void seen.push(message.value?.toString() ?? '') });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && seen.length < expectAtLeast) await sleep(100);
  await sleep(1_000); // a duplicate would arrive right behind
  await consumer.disconnect();
  return seen;
}

/** Batch A is written but its answer lost; batch B (same size) is sent while A waits to retry. */
async function dropThenConcurrent(
  send: (p: Producer, b: ProducerBatch) => Promise<RecordMetadata[]>,
): Promise<string[]> {
  const { factory, arm, closeAll } = droppingSockets();
  const kafka = new Kafka({
    clientId: 'idem-test',
    brokers,
    logLevel: logLevel.NOTHING,
    socketFactory: factory,
    retry: { initialRetryTime: 300, retries: 8 },
  });
  const topic = await freshTopic(new Kafka({ clientId: 'idem-admin', brokers, logLevel: logLevel.NOTHING }));
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    await send(producer, { topicMessages: [{ topic, messages: [{ value: 'warm-up' }] }], acks: -1 });
    arm();
    const a = send(producer, { topicMessages: [{ topic, messages: [{ value: 'A' }] }], acks: -1 });
    await sleep(50);
    const b = send(producer, { topicMessages: [{ topic, messages: [{ value: 'B' }] }], acks: -1 });
    await withTimeout('both sends', Promise.all([a, b]), 30_000);
  } finally {
    await producer.disconnect();
    closeAll();
  }
  return readAll(new Kafka({ clientId: 'idem-reader', brokers, logLevel: logLevel.NOTHING }), topic, 3);
}

/** A results-table row: A and B are the records that must each be written once. */
function row(path: string, seen: readonly string[], notes: string): FaultResult {
  const count = (v: string) => seen.filter((s) => s === v).length;
  const missing = ['A', 'B'].filter((v) => count(v) === 0).length;
  const duplicated = ['A', 'B'].reduce((n, v) => n + Math.max(0, count(v) - 1), 0);
  return {
    test: 'producer',
    fault: `produce answer lost, concurrent send: ${path}`,
    injected: 1,
    missing,
    extra: 0,
    duplicated,
    recoverySeconds: null,
    pass: path.startsWith('SerialSender') ? missing === 0 && duplicated === 0 : true,
    notes,
  };
}

after(async () => {
  const admin = new Kafka({ clientId: 'idem-cleanup', brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin.disconnect();
});

test('kafkajs alone: a concurrent batch takes the rolled-back sequence, so B is lost and A written twice', async () => {
  const seen = await dropThenConcurrent((p, b) => p.sendBatch(b));
  // Both sends resolved successfully; this is what the broker holds (the defect SerialSender exists for).
  report([
    row('kafkajs sendBatch, concurrent', seen, 'control: shows the defect (B acknowledged, never written)'),
  ]);
  assert.deepEqual(seen, ['warm-up', 'A', 'A']);
});

test('through SerialSender: the same failure writes every record exactly once, in order', async () => {
  const senders = new WeakMap<Producer, SerialSender>();
  const seen = await dropThenConcurrent((p, b) => {
    if (!senders.has(p)) senders.set(p, new SerialSender(p));
    return senders.get(p)!.sendBatch(b);
  });
  report([row("SerialSender (the worker's path)", seen, 'one send at a time')]);
  assert.deepEqual(seen, ['warm-up', 'A', 'B']);
});
