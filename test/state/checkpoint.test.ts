import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CheckpointStore, newMachineState } from '../../src/state';
import { testRedis } from './fixtures';

const { redis, prefix } = testRedis();

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

test('a window round-trips exactly through the binary checkpoint, sensors missing from some readings included', async () => {
  const store = new CheckpointStore(redis, prefix);
  const state = newMachineState('m-bin');
  state.readings = [
    { ts: 1_767_225_600_000, values: { volt: 171.2, rotate: 0.1 + 0.2 } },
    { ts: 1_767_229_200_000, values: { rotate: -1e-300, pressure: 1.7976931348623157e308 } },
    { ts: 1_767_232_800_000, values: {} },
  ];
  state.logs = [{ ts: 1_767_225_000_000, words: ['error3', 'pressure', 'drop'] }];
  state.lastScore = { ts: 1_767_232_800_000, score: 0.93, modelVersion: 'v1' };
  state.applied = { readings: 41, logs: 7 };
  await store.save([state]);
  const body = await redis.getBuffer(`${prefix}state:m-bin`);
  assert.ok(
    body && body.length < Buffer.byteLength(JSON.stringify(state)),
    'binary is smaller than the JSON it replaces',
  );
  assert.deepEqual((await store.load(['m-bin'])).get('m-bin'), state);
});

test('a truncated binary checkpoint is reported and treated as absent', async () => {
  const store = new CheckpointStore(redis, prefix);
  const state = newMachineState('m-cut');
  state.readings = [{ ts: 1, values: { v: 1 } }];
  await store.save([state]);
  const body = (await redis.getBuffer(`${prefix}state:m-cut`))!;
  await redis.set(`${prefix}state:m-cut`, body.subarray(0, body.length - 3));
  const corrupt: string[] = [];
  const loaded = await store.load(['m-cut'], (id, why) => corrupt.push(`${id}: ${why}`));
  assert.equal(loaded.size, 0);
  assert.match(corrupt[0] ?? '', /^m-cut: checkpoint holds/);
});

test('more machines than one round trip carries are saved and loaded whole', async () => {
  const store = new CheckpointStore(redis, `${prefix}many:`);
  const states = Array.from({ length: 2_345 }, (_, i) => {
    const s = newMachineState(`m-${i}`);
    s.readings = [{ ts: i, values: { v: i / 3 } }];
    return s;
  });
  await store.save(states);
  const loaded = await store.load(states.map((s) => s.machineId));
  assert.equal(loaded.size, states.length);
  assert.deepEqual(loaded.get('m-2344'), states[2344]);
});
