import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, test } from 'node:test';
import { loadConfig } from '../../src/config';
import { createRedis } from '../../src/redis/client';
import { CheckpointStore, newMachineState } from '../../src/state';

const config = loadConfig(process.env);
const redis = createRedis(config);
const prefix = `t${randomUUID().slice(0, 8)}:`;
after(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

test('the k-of-n alert state round-trips through a checkpoint', async () => {
  const store = new CheckpointStore(redis, prefix);
  const state = newMachineState('m-1');
  state.alert = { state: 'raised', lastRaisedTs: 100, lastClearedTs: 50, recent: [0.2, 0.7, 0.9] };
  await store.save([state]);
  const loaded = (await store.load(['m-1'])).get('m-1');
  assert.deepEqual(loaded?.alert, state.alert);
});

test('a checkpoint written before the k-of-n rule (no recent scores, no last clear) still loads', async () => {
  const old = {
    machineId: 'm-old',
    readings: [{ ts: 1, values: { v: 1 } }],
    logs: [],
    alert: { state: 'raised', lastRaisedTs: 7 },
    applied: { readings: 3, logs: -1 },
  };
  await redis.set(`${prefix}state:m-old`, JSON.stringify(old));
  const corrupt: string[] = [];
  const loaded = (await new CheckpointStore(redis, prefix).load(['m-old'], (id) => corrupt.push(id))).get(
    'm-old',
  );
  assert.deepEqual(corrupt, []);
  assert.deepEqual(loaded?.alert, { state: 'raised', lastRaisedTs: 7, lastClearedTs: undefined, recent: [] });
  assert.equal(loaded?.readings.length, 1);
});
