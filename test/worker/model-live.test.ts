import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Registry } from 'prom-client';
import { EvaluationStore, Tally } from '../../src/evaluate';
import type { LedgerEvent } from '../../src/evaluate';
import { createRedis } from '../../src/redis/client';
import type { ModelMeta } from '../../src/registry';
import { MachineStore } from '../../src/state';
import { workerHandlers } from '../../src/worker/views';
import type { WorkerViewSource } from '../../src/worker/views';
import { readLiveFigures } from '../../src/evaluate/store';
import { dropTestResources, testConfig, withTimeout } from '../helpers';

const config = testConfig();
const redis = createRedis(config);
after(async () => {
  await withTimeout('redis quit', redis.quit());
  await dropTestResources(config);
});

/** Only what `modelView` reads of a version's metadata (the rest of the registry record is irrelevant here). */
const meta = {
  version: 'v3',
  threshold: 0.4,
  scaler: { mean: [0], std: [1] },
  hash: 'h',
} as unknown as ModelMeta;

function handlers(live: WorkerViewSource['live']) {
  const view: WorkerViewSource = {
    store: new MachineStore(10, 60_000),
    checkpoints: { load: () => Promise.resolve(new Map()) },
    model: () => meta,
    live,
    lag: () => [],
    readingsTopic: config.topics.readings,
    window: config.model.window,
  };
  return workerHandlers(
    { state: 'running', readiness: () => ({ ready: true, reasons: [] }), view },
    new Registry(),
  );
}

test("the worker's /model carries the serving version's live figures from the evaluator's state in Redis", async () => {
  const h = handlers(() => readLiveFigures(redis, config.redis.prefix));
  // No evaluator yet: live is null, and the rest of the view is there.
  const before = (await h.model()) as Record<string, unknown>;
  assert.equal(before.version, 'v3');
  assert.equal(before.live, null);
  assert.equal(before.scaler, undefined, 'the scaler arrays stay out of /model');

  // What an evaluator persists after deciding: 3 detections (lead 2 h, 4 h, 6 h), 1 miss, 1 false alarm for v3.
  const tally = new Tally();
  const h2 = 2 * 3_600_000;
  tally.apply([
    { kind: 'detected', version: 'v3', leadMs: h2 },
    { kind: 'detected', version: 'v3', leadMs: 2 * h2 },
    { kind: 'detected', version: 'v3', leadMs: 3 * h2 },
    { kind: 'missed', version: 'v3' },
    { kind: 'true_alarm', version: 'v3' },
    { kind: 'false_alarm', version: 'v3' },
    { kind: 'missed', version: 'v2' },
  ] satisfies LedgerEvent[]);
  await new EvaluationStore(redis, config.redis.prefix).save([], [], tally, tally.takeNewLeads(), 0);

  const live = ((await h.model()) as { live: Record<string, unknown> | null }).live;
  assert.ok(live, 'live figures for v3');
  assert.equal(live.version, 'v3');
  assert.equal(live.recall, 0.75);
  assert.equal(live.precision, 0.5);
  assert.equal(live.leadTimeP50Seconds, 4 * 3600);
});

test('/model still answers when the live figures cannot be read', async () => {
  const h = handlers(() => Promise.reject(new Error('redis down')));
  const view = (await h.model()) as Record<string, unknown>;
  assert.equal(view.version, 'v3');
  assert.equal(view.live, null);
});
