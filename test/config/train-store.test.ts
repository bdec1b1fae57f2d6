import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config';
import { parseBytes } from '../../src/config/train-store';

test('PDM_TRAIN_STORE_BYTES takes bytes or a unit; defaults; a bad value names the variable', () => {
  assert.equal(parseBytes('1048576'), 1_048_576);
  assert.equal(parseBytes('256MiB'), 256 * 2 ** 20);
  assert.equal(parseBytes('1.5GB'), 1.5e9);
  const store = loadConfig({}).training.store;
  assert.deepEqual(store, {
    maxBytes: 256 * 2 ** 20,
    nearHorizons: 2,
    nearShare: 1,
    bucketMs: 7 * 86_400_000,
    weightedLoss: false,
  });
  assert.equal(loadConfig({ PDM_TRAIN_WEIGHTED_LOSS: 'true' }).training.store.weightedLoss, true);
  assert.equal(loadConfig({ PDM_TRAIN_STORE_BYTES: '2gib' }).training.store.maxBytes, 2 * 2 ** 30);
  for (const [name, value] of [
    ['PDM_TRAIN_STORE_BYTES', '12 parsecs'],
    ['PDM_TRAIN_STORE_BYTES', '1000'],
    ['PDM_TRAIN_STORE_NEAR', '0'],
    ['PDM_TRAIN_STORE_NEAR_SHARE', '1.5'],
    ['PDM_TRAIN_STORE_BUCKET', 'weekly'],
    ['PDM_TRAIN_WEIGHTED_LOSS', 'yes'],
  ] as const)
    assert.throws(() => loadConfig({ [name]: value }), new RegExp(`${name}=`));
});
