/**
 * Issue 12 finding 6: decoding and applying a fetched batch must not hold the event loop for its whole
 * length either (a backlog's batches hold ten thousand records each, and several resume in one turn). The
 * batch step with in-memory ports and no model, so that only decode and apply run.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Slicer } from '../../src/loop';
import { createLogger } from '../../src/log';
import { createMetrics } from '../../src/metrics';
import { MachineStore } from '../../src/state';
import { BatchStep, batchSettings } from '../../src/worker/batch';
import { decodeBatch, decodeRecord } from '../../src/worker/decode';
import { testConfig } from '../helpers';
import { midwayViews, testConsumer } from '../state/fixtures';

const config = testConfig();
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 0, 1);
const limits = {
  maxRecordBytes: 10_000,
  maxFutureSkewMs: HOUR,
  now: () => T0 + 1_000 * HOUR,
  requireKey: true,
};

/** 200 machines × 200 hourly readings, one record in 500 not JSON. */
const messages = Array.from({ length: 40_000 }, (_, i) => {
  const machineId = `m-${i % 200}`;
  const value = { machineId, ts: T0 + Math.floor(i / 200) * HOUR, values: { v: i % 7, w: 1 } };
  return {
    key: Buffer.from(machineId),
    value: Buffer.from(i % 500 === 499 ? '{not json' : JSON.stringify(value)),
    offset: String(i),
    timestamp: String(T0),
  };
});

test('a batch is decoded in slices: the loop runs between them, and the result is the record-by-record one', async () => {
  let yields = 0;
  const decoded = await decodeBatch(messages, 'readings', limits, new Slicer(1, async () => void yields++));
  assert.ok(yields > 0, 'decoding 40,000 records yielded at least once');
  assert.deepEqual(
    decoded,
    messages.map((m) => decodeRecord(m, 'readings', limits)),
  );
  assert.equal(decoded.filter((d) => !d.ok).length, 80);
});

test('a batch is applied in slices: other work sees it half-applied, and the consumer heartbeats in between', async () => {
  const decoded = messages.map((m) => decodeRecord(m, 'readings', limits));
  let applied = 0;
  const step = new BatchStep(
    batchSettings(config),
    { store: new MachineStore(10_000, HOUR), partitionOf: new Map(), processed: () => undefined },
    {
      producer: { send: async () => undefined },
      checkpoints: {
        load: async () => new Map(),
        save: async () => undefined,
        record: async () => undefined,
        journaled: async () => new Map(),
      },
      model: { hasModel: () => false, unusable: () => undefined, score: async () => undefined },
      clock: { now: () => T0 },
    },
    createMetrics(undefined, false),
    createLogger('error', { test: 'slices' }),
    () => void applied++,
  );
  let heartbeats = 0;
  const consumer = testConsumer(
    [],
    () => false,
    () => void heartbeats++,
  );
  const { views: seenMidway, stop } = midwayViews(() => applied, 39_920);
  const outcome = await step.run(
    { topic: config.topics.readings, partition: 0, messages, decoded },
    consumer,
  );
  stop();
  assert.equal(outcome.status, 'committed');
  assert.equal(applied, 39_920, 'every valid record applied');
  assert.ok(seenMidway.size > 0, 'the event loop ran while the batch was half-applied');
  assert.ok(heartbeats > seenMidway.size, `${heartbeats} heartbeats, ${seenMidway.size} midway views`);
});
