import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { storeGauges } from '../../src/train/trainer';

test('the store gauges show what the last round’s summary reported', async () => {
  const registry = new Registry();
  storeGauges(registry)({
    bytes: 1234,
    budgetBytes: 4096,
    machines: 2,
    readings: 50,
    logs: 3,
    failures: 1,
    windows: { near: 7, sample: 5, pending: 9 },
    dropped: { near: 0, sample: 4 },
    caps: { near: null, sample: 3 },
    lateReadings: 0,
    migrated: false,
  });
  const text = await registry.metrics();
  assert.match(text, /^pdm_train_store_bytes 1234$/m);
  assert.match(text, /^pdm_train_store_budget_bytes 4096$/m);
  assert.match(text, /^pdm_train_store_windows\{kind="sample"\} 5$/m);
});
