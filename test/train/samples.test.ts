import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { createLogger } from '../../src/log';
import { createRedis } from '../../src/redis/client';
import { buildWindows } from '../../src/train/dataset';
import { TrainStore } from '../../src/train/store';
import { dropTestResources, testConfig } from '../helpers';
import { H, hourSpec } from './store-spec';

const spec = hourSpec(3, 4, 5, 8);

test('the older gzipped-JSON store is converted on first load, then removed; a broken record is dropped alone', async () => {
  const config = testConfig();
  const redis = createRedis(config);
  const key = `${config.redis.prefix}train:store`;
  const legacyKey = `${config.redis.prefix}train:samples`;
  const snapshot = {
    readings: Array.from({ length: 60 }, (_, i) => ({
      machineId: `m-${i % 2}`,
      ts: i * H,
      values: { v: i, w: -i },
    })),
    logs: [{ machineId: 'm-0', ts: 10 * H, text: 'Error2 pressure drop' }],
    failures: [{ machineId: 'm-1', ts: 31 * H, component: 'comp2' }],
    invalid: {},
  };
  try {
    await redis.set(legacyKey, gzipSync(JSON.stringify({ snapshot, offsets: { 'readings/0': 60 } })));
    const store = new TrainStore(redis, key, spec, 2 ** 30, createLogger('error'), legacyKey);
    assert.deepEqual(await store.load(), { 'readings/0': 60 });
    const full = buildWindows(snapshot.readings, snapshot.logs, snapshot.failures, spec);
    const shape = (
      ws: readonly { machineId: string; endTs: number; label: number; words: readonly string[] }[],
    ) => ws.map((w) => [w.machineId, w.endTs, w.label, w.words.join(' ')]);
    assert.deepEqual(shape(store.windows().windows), shape(full.windows));
    store.enforceBudget({ 'readings/0': 60 });
    await store.save();
    assert.equal(await redis.exists(legacyKey), 0);
    // An unreadable record costs only its machine: dropped with a warning, deleted by the next save.
    await redis.hset(key, 'm:broken', Buffer.from('not a record'));
    const again = new TrainStore(redis, key, spec, 2 ** 30, createLogger('error'), legacyKey);
    assert.deepEqual(await again.load(), { 'readings/0': 60 });
    assert.equal(again.report().migrated, false);
    assert.deepEqual(shape(again.windows().windows), shape(full.windows));
    again.enforceBudget({ 'readings/0': 60 });
    await again.save();
    assert.equal(await redis.hexists(key, 'm:broken'), 0);
  } finally {
    redis.disconnect();
    await dropTestResources(config);
  }
});
