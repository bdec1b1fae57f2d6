/**
 * Issue 12 finding 6: a large batch must not hold the event loop for its whole length. The batch step
 * (src/worker/batch.ts) with the real scoring path (ModelHolder → ServingModel → ScoreBatcher, a known
 * model from the registry in Redis, explanations on) and in-memory producer, checkpoints and consumer.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { createLogger } from '../../src/log';
import { createMetrics } from '../../src/metrics';
import { createRedis } from '../../src/redis/client';
import { ModelRegistry } from '../../src/registry';
import { ScoreBatcher } from '../../src/score';
import { MachineStore } from '../../src/state';
import { BatchStep, batchSettings } from '../../src/worker/batch';
import { decodeBatch } from '../../src/worker/decode';
import { ModelHolder } from '../../src/worker/model-holder';
import type { OutputRecords } from '../../src/worker/ports';
import { ServingModel } from '../../src/worker/scorer';
import { registerKnownModel } from '../known-model';
import { midwayViews, testConsumer } from '../state/fixtures';
import { dropTestResources, SMALL_MODEL, testConfig, withTimeout } from '../helpers';

// The plain threshold rule without cooldown: every window of the alternating series below flips the alert.
const config = testConfig({
  ...SMALL_MODEL,
  PDM_ALERT_COOLDOWN: '0ms',
  PDM_ALERT_RAISE_K: '1',
  PDM_ALERT_WINDOW_N: '1',
  PDM_ALERT_CLEAR_J: '1',
});
const redis = createRedis(config);
after(async () => {
  await dropTestResources(config);
  await withTimeout('redis quit', redis.quit());
});

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 0, 1);
const BATCH_SIZE = 256;

test('a large batch yields between scoring slices: timers run and the consumer heartbeats before it ends', async () => {
  await registerKnownModel(redis, config);
  const logger = createLogger('error', { test: 'yield' });
  const metrics = createMetrics(undefined, false);
  const holder = new ModelHolder(
    new ModelRegistry(redis, config.redis.prefix),
    { window: config.model.window, textMaxLen: config.model.textMaxLen },
    logger,
    metrics,
  );
  await holder.sync();
  const serving = new ServingModel(
    holder,
    new ScoreBatcher(() => holder.current, BATCH_SIZE, 0, metrics),
    metrics,
    32,
  );
  // 400 machines × 12 hourly readings in one batch; sensor v alternates, so every full window flips an alert.
  const machines = 400;
  const hours = 12;
  const messages = Array.from({ length: machines * hours }, (_, i) => {
    const m = i % machines;
    const h = Math.floor(i / machines);
    const machineId = `m-${m}`;
    const value = { machineId, ts: T0 + h * HOUR, values: { v: h % 2 ? 2.5 : -1 } };
    return {
      key: Buffer.from(machineId),
      value: Buffer.from(JSON.stringify(value)),
      offset: String(i),
      timestamp: String(Date.now()),
    };
  });
  const windows = machines * (hours - config.model.window + 1);
  const decoded = await decodeBatch(messages, 'readings', {
    maxRecordBytes: 10_000,
    maxFutureSkewMs: HOUR,
    now: Date.now,
    requireKey: true,
  });
  let scored = 0;
  const published: OutputRecords[] = [];
  const step = new BatchStep(
    batchSettings(config),
    { store: new MachineStore(10_000, HOUR), partitionOf: new Map(), processed: () => undefined },
    {
      producer: { send: async (records) => void published.push(...records) },
      checkpoints: {
        load: async () => new Map(),
        save: async () => undefined,
        record: async () => undefined,
        journaled: async () => new Map(),
      },
      model: {
        hasModel: () => serving.hasModel(),
        unusable: () => serving.unusable(),
        score: async (s) => {
          const result = await serving.score(s);
          scored++;
          return result;
        },
        explain: (requests) => serving.explain(requests),
      },
      clock: { now: Date.now },
    },
    metrics,
    logger,
  );
  let heartbeats = 0;
  const consumer = testConsumer(
    [],
    () => false,
    () => void heartbeats++,
  );
  // What other work would see while the batch runs: a timer set as it starts, and one check per loop turn.
  let done = false;
  let timerFiredDuringBatch = false;
  setTimeout(() => (timerFiredDuringBatch = !done), 0);
  const { views: seenMidway, stop } = midwayViews(() => scored, windows);
  const outcome = await step.run(
    { topic: config.topics.readings, partition: 0, messages, decoded },
    consumer,
  );
  done = true;
  stop();
  holder.dispose();

  assert.equal(outcome.status, 'committed');
  assert.equal(scored, windows);
  assert.ok(timerFiredDuringBatch, 'a timer set when the batch started fired before it ended');
  // One model call per turn: other work saw the scoring in progress after (nearly) every call.
  const calls = Math.ceil(windows / BATCH_SIZE);
  assert.ok(
    seenMidway.size >= calls - 2,
    `the loop ran between scoring calls: ${seenMidway.size} midway views of ${calls} calls`,
  );
  assert.ok(heartbeats >= calls - 1, `${heartbeats} heartbeats for ${calls} slices`);
  // And the outputs are complete: every window flipped its alert, every raised alert is explained.
  const alerts = published
    .filter((r) => r.topic === config.topics.alerts)
    .flatMap((r) => r.messages.map((m) => JSON.parse(String(m.value)) as { state: string; explain: object }));
  assert.equal(alerts.length, windows);
  const raised = alerts.filter((a) => a.state === 'raised');
  assert.ok(raised.length > 0 && raised.every((a) => 'attributions' in a.explain));
});
