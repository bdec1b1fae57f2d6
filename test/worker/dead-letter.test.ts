import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { test } from 'node:test';
import Redis from 'ioredis';
import type { Message } from 'kafkajs';
import { createKafka } from '../../src/kafka/client';
import { createTopicsReady } from '../../src/kafka/create';
import { createTopics } from '../../src/kafka/topics';
import { createLogger } from '../../src/log';
import { createMetrics } from '../../src/metrics';
import { Worker } from '../../src/worker';
import {
  buildDeadLetter,
  chunkBySize,
  DEAD_LETTER_SEND_BYTES,
  isRecordRefused,
  pointerDeadLetter,
} from '../../src/worker/dead-letter';
import { registerKnownModel } from '../known-model';
import { dropTestResources, eventually, testConfig, withTimeout } from '../helpers';

const T0 = Date.parse('2026-01-01T00:00:00Z');
/** The broker's default message.max.bytes; the local stack raises it, so the test sets it on its topic. */
const BROKER_DEFAULT_MAX_BYTES = 1_048_588;

test('a dead letter is bounded whatever the record: truncated, marked, sized and digested', () => {
  const key = Buffer.alloc(300_000, 0x01);
  const value = Buffer.alloc(2_000_000, 0x02);
  const dl = buildDeadLetter({
    topic: 'r',
    partition: 3,
    message: { key, value, offset: '42' },
    code: 'key_mismatch',
    reason: 'x'.repeat(10_000),
  });
  const size = Buffer.byteLength(String(dl.value));
  // 256 + 4096 control bytes escaped to six characters each, plus the fields: far below the 1 MB default.
  assert.ok(size < 40_000, `dead letter is ${size} bytes`);
  assert.equal(dl.key, null, 'a long key is not reused as the dead letter key');
  const body = JSON.parse(String(dl.value)) as Record<string, unknown>;
  assert.deepEqual(body.truncated, { key: true, value: true });
  assert.equal(body.keyBytes, 300_000);
  assert.equal(body.valueBytes, 2_000_000);
  assert.equal(body.sha256, createHash('sha256').update(key).update('\u0000').update(value).digest('hex'));
  assert.equal((body.key as string).length, 256);
  assert.equal((body.error as { message: string }).message.length, 1000);

  const small = buildDeadLetter({
    topic: 'r',
    partition: 0,
    message: { key: Buffer.from('m-1'), value: Buffer.from('{bad'), offset: '1' },
    code: 'bad_json',
    reason: 'nope',
  });
  assert.equal(
    String(small.key),
    'm-1',
    'a short text key is kept so the dead letter sits beside its machine',
  );
  const smallBody = JSON.parse(String(small.value)) as Record<string, unknown>;
  assert.equal(smallBody.truncated, undefined);
  assert.equal(smallBody.value, '{bad');

  // A multi-byte character cut at the limit is dropped, not turned into U+FFFD.
  const euro = Buffer.from('€'.repeat(2000)); // 6000 bytes
  const cut = JSON.parse(
    String(
      buildDeadLetter({
        topic: 'r',
        partition: 0,
        message: { key: null, value: euro, offset: '2' },
        code: 'oversize',
        reason: '',
      }).value,
    ),
  ) as { value: string };
  assert.equal(cut.value, '€'.repeat(1365));

  const pointer = JSON.parse(String(pointerDeadLetter(dl).value)) as Record<string, unknown>;
  assert.equal(pointer.pointer, true);
  assert.equal(pointer.value, null);
  assert.equal(pointer.offset, '42');
  assert.equal(pointer.sha256, body.sha256);
});

test('dead letters are sent in chunks of bounded bytes; record-refused produce errors are recognised', () => {
  const big: Message = { key: null, value: 'x'.repeat(30_000) };
  const chunks = chunkBySize(Array.from({ length: 40 }, () => big));
  assert.ok(chunks.length > 1);
  assert.equal(chunks.flat().length, 40);
  for (const c of chunks) assert.ok(c.length * 30_000 <= DEAD_LETTER_SEND_BYTES);
  assert.equal(
    isRecordRefused({ name: 'KafkaJSNonRetriableError', cause: { type: 'MESSAGE_TOO_LARGE' } }),
    true,
  );
  assert.equal(isRecordRefused({ errors: [{ type: 'RECORD_LIST_TOO_LARGE' }] }), true);
  assert.equal(isRecordRefused({ type: 'REQUEST_TIMED_OUT' }), false);
});

test('a 300 KB control-byte key, a 2 MB value and a non-UTF-8 key are dead-lettered under the broker default size; the worker keeps scoring', async () => {
  const config = testConfig({
    PDM_WINDOW: '4',
    PDM_LSTM_UNITS: '4',
    PDM_TEXT_LSTM_UNITS: '4',
    PDM_DENSE_UNITS: '4',
    PDM_TEXT_MAX_LEN: '8',
    PDM_VOCAB_SIZE: '50',
    PDM_TOPIC_SCORES: `s${randomUUID().slice(0, 8)}.scores`,
    PDM_MODEL_POLL_INTERVAL: '200ms',
    PDM_MAX_RECORD_BYTES: '65536',
  });
  const kafka = createKafka(config);
  const admin = kafka.admin();
  const producer = kafka.producer();
  const observer = kafka.consumer({ groupId: `obs-${randomUUID()}` });
  const redis = new Redis(config.redis.url);
  const dlq: Record<string, unknown>[] = [];
  const scores: Record<string, unknown>[] = [];
  const worker = new Worker(
    config,
    createLogger('warn', { test: 'dead-letter' }),
    createMetrics(undefined, false),
  );
  try {
    await admin.connect();
    await createTopicsReady(admin, [
      {
        topic: config.topics.dlq,
        numPartitions: 1,
        configEntries: [{ name: 'max.message.bytes', value: String(BROKER_DEFAULT_MAX_BYTES) }],
      },
    ]);
    await createTopics(config, { partitions: 2, replication: 1 });
    await producer.connect();
    await observer.connect();
    await observer.subscribe({ topics: [config.topics.dlq, config.topics.scores!], fromBeginning: true });
    await observer.run({
      eachMessage: async ({ topic, message }) => {
        (topic === config.topics.dlq ? dlq : scores).push(
          JSON.parse(String(message.value)) as Record<string, unknown>,
        );
      },
    });
    await registerKnownModel(redis, config, { threshold: 0.5 });
    await worker.start();
    const reading = (machineId: string, h: number) =>
      JSON.stringify({ machineId, ts: T0 + h * 3_600_000, values: { v: 0.1 } });
    await producer.send({
      topic: config.topics.readings,
      messages: [
        // An explicit partition: kafkajs's default partitioner hashes a key with a Long-based murmur2 that
        // spent 32 s (profiled, shared machine) on this 300 KB key, blocking the worker under test in this
        // same process past its session timeout.
        { key: Buffer.alloc(300_000, 0x01), value: reading('m-ctl', 0), partition: 0 },
        {
          key: 'm-big',
          value: JSON.stringify({ machineId: 'm-big', ts: T0, values: { v: 1 }, pad: 'y'.repeat(2_000_000) }),
        },
        { key: Buffer.from([0x6d, 0xff]), value: reading('m\uFFFD', 0) },
        { key: Buffer.from([0x6d, 0xfe]), value: reading('m\uFFFD', 1) },
      ],
    });
    await producer.send({
      topic: config.topics.readings,
      messages: [0, 1, 2, 3].map((h) => ({ key: 'm-ok', value: reading('m-ok', h) })),
    });
    // Dead letters are at-least-once like every output: a batch whose commit failed (a slow, shared machine
    // can miss the session timeout) is re-run and re-sends them. Their source position identifies them.
    const unique = () => new Map(dlq.map((d) => [`${String(d.partition)}/${String(d.offset)}`, d]));
    await eventually(
      'dead letters and the healthy machine scored',
      () => unique().size >= 4 && scores.length >= 1,
      60_000,
    );
    const codes = [...unique().values()].map((d) => (d.error as { code: string }).code).sort();
    assert.deepEqual(codes, ['bad_key', 'bad_key', 'key_mismatch', 'oversize']);
    const keyed = dlq.find((d) => (d.error as { code: string }).code === 'key_mismatch')!;
    assert.equal(keyed.keyBytes, 300_000);
    assert.deepEqual(keyed.truncated, { key: true, value: false });
    const oversize = dlq.find((d) => (d.error as { code: string }).code === 'oversize')!;
    assert.ok((oversize.valueBytes as number) > 2_000_000);
    assert.equal(worker.readiness().ready, true, worker.readiness().reasons.join('; '));
    assert.deepEqual(
      [...new Set(scores.map((s) => `${String(s.machineId)} ${String(s.ts)}`))],
      [`m-ok ${new Date(T0 + 3 * 3_600_000).toISOString()}`],
    );
  } finally {
    await withTimeout('worker stop', worker.stop(), 30_000);
    await withTimeout('observer disconnect', observer.disconnect());
    await withTimeout('producer disconnect', producer.disconnect());
    await admin.deleteTopics({ topics: [config.topics.scores!] }).catch(() => undefined);
    await withTimeout('admin disconnect', admin.disconnect());
    redis.disconnect();
    await dropTestResources(config);
  }
});
