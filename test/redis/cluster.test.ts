/**
 * pdm on a real Redis Cluster (three masters started by this file, src/stack/redis-cluster.ts): every
 * store that keeps state in Redis, through the client services use (openRedis with PDM_REDIS_CLUSTER).
 * Each test checks that the keys of one atomic group (a MULTI or a Lua script) hash to one slot, as the
 * cluster itself computes it, and that the operations did what they do on a single Redis.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { Config } from '../../src/config';
import { StaleCheckpointError } from '../../src/errors';
import { EvaluationStore } from '../../src/evaluate/store';
import { Tally } from '../../src/evaluate/tally';
import { createLogger } from '../../src/log';
import { deleteKeys, scanKeys } from '../../src/redis/batch';
import { createRedis, isCluster } from '../../src/redis/client';
import { copyToCluster, CopyRefusedError } from '../../src/redis/copy';
import type { RedisClient } from '../../src/redis/client';
import { keyLayout, standaloneKeys } from '../../src/redis/keys';
import { ModelRegistry } from '../../src/registry';
import { CheckpointStore, newMachineState } from '../../src/state';
import type { Decision, MachineState, RecordPlace } from '../../src/state';
import { RedisLock } from '../../src/train/lock';
import { TrainStore } from '../../src/train/store';
import { testConfig, withTimeout } from '../helpers';
import { registerKnownModel, TINY_MODEL_ENV } from '../known-model';
import { H, hourSpec } from '../train/store-spec';
import { useRedisCluster } from './fixtures';

const fixture = useRedisCluster(2);
let config: Config;
let redis: RedisClient;
before(async () => ({ config, redis } = await fixture()));

/** The slots the cluster itself assigns to these keys. */
async function slotsOf(keys: readonly string[]): Promise<Set<number>> {
  return new Set(await Promise.all(keys.map(async (k) => Number(await redis.cluster('KEYSLOT', k)))));
}

/** How many masters hold at least one of the keys matching the pattern. */
async function mastersHolding(pattern: string): Promise<number> {
  assert.ok(isCluster(redis));
  const counts = await Promise.all(
    redis.nodes('master').map(async (node) => (await node.keys(pattern)).length),
  );
  return counts.filter((n) => n > 0).length;
}

const P0: RecordPlace = { topic: 'r', partition: 0, incarnation: 'i1' };

function stateAt(machineId: string, offset: number): MachineState {
  const s = newMachineState(machineId);
  s.readings.push({ ts: offset * H, values: { v: offset / 7 } });
  s.applied.readings = offset;
  s.appliedAt = { readings: P0 };
  return s;
}

const decision = (machineId: string, offset: number): Decision => ({
  machineId,
  place: P0,
  offset,
  ts: offset * H,
  modelVersion: 'v1',
  score: 0.1 + offset / 3,
  threshold: 0.5,
});

test('the client is a cluster client over the seed nodes, and finds the node that was not a seed', async () => {
  assert.ok(isCluster(redis));
  await redis.ping();
  assert.equal(redis.nodes('master').length, 3);
});

test('checkpoints: fenced writes, loads, journal trimming and delete-all across every master', async () => {
  const prefix = `${config.redis.prefix}ck:`;
  const keys = keyLayout(redis, prefix);
  const refused: string[] = [];
  const store = new CheckpointStore(redis, prefix, 600, (r) => refused.push(r.machineId));
  // Odd ids too: braces and % are escaped inside the hash tag.
  const ids = [...Array.from({ length: 300 }, (_, i) => `m-${i}`), 'a}b', '{y}', 'm%7B'];
  for (const id of ['m-1', 'a}b', '{y}'])
    assert.equal(
      (await slotsOf(['state', 'fence', 'journal'].map((k) => keys.machine(k as 'state', id)))).size,
      1,
    );

  await store.record(ids.flatMap((id) => [decision(id, 4), decision(id, 6)]));
  await store.save(ids.map((id) => stateAt(id, 5)));
  assert.ok((await mastersHolding(`${prefix}state:*`)) >= 2, 'machines are spread over the masters');
  const loaded = await store.load(ids);
  assert.equal(loaded.size, ids.length);
  assert.deepEqual(loaded.get('a}b'), stateAt('a}b', 5));
  assert.deepEqual(
    new Set(await store.machineIds()),
    new Set(ids),
    'SCAN found every machine on every master',
  );
  // The script trimmed each journal in the same slot as its checkpoint: offset 4 covered, 6 kept.
  const journals = await store.journaled(ids);
  assert.deepEqual(
    journals.get('{y}')?.map((d) => d.offset),
    [6],
  );
  assert.equal(journals.size, ids.length);
  // A stale write (offset 3 after 5) is refused by the fence; the others of the batch are written.
  await assert.rejects(store.save([stateAt('m-7', 3), stateAt('m-8', 9)]), (e: unknown) => {
    assert.ok(e instanceof StaleCheckpointError);
    assert.deepEqual(e.machineIds, ['m-7']);
    return true;
  });
  assert.deepEqual(refused, ['m-7']);
  const after = await store.load(['m-7', 'm-8']);
  assert.equal(after.get('m-7')?.applied.readings, 5);
  assert.equal(after.get('m-8')?.applied.readings, 9);
  assert.deepEqual(await store.journaled(['m-8']), new Map(), 'the covering checkpoint emptied the journal');
  // What `pdm replay` does: every checkpoint, fence and journal goes, on every master.
  await store.record([decision('orphan', 1)]);
  assert.equal(await store.deleteAll(), ids.length);
  assert.deepEqual(await scanKeys(redis, `${prefix}*`), []);
});

test('the model registry and its training lock share a slot: register, fenced promote, rollback', async () => {
  const keys = keyLayout(redis, config.redis.prefix);
  const registry = new ModelRegistry(redis, config.redis.prefix);
  const lock = new RedisLock(redis, keys.trainLock(), 10_000);
  assert.ok(await lock.acquire());
  const rival = new RedisLock(redis, keys.trainLock(), 10_000);
  assert.equal(await rival.acquire(), false, 'the lock is held');
  const v1 = await registerKnownModel(redis, config, { threshold: 0.4 });
  const v2 = await registerKnownModel(redis, config, { threshold: 0.6, promote: false });
  assert.equal(await registry.promote(v2.version, undefined, lock.fence()), v1.version);
  assert.equal(await registry.currentVersion(), v2.version);
  assert.deepEqual(await registry.rollback(), { from: v2.version, to: v1.version });
  assert.equal(await registry.currentVersion(), v1.version);
  const loaded = await registry.load(v1.version);
  assert.equal(loaded.meta.threshold, 0.4);
  loaded.model.dispose();
  const stored = await scanKeys(redis, `${config.redis.prefix}{registry}*`);
  assert.ok(stored.length >= 8, `${stored.length} registry keys`);
  assert.equal((await slotsOf([...stored, keys.trainLock()])).size, 1);
  await lock.release();
  assert.ok(await rival.acquire(), 'released, another run takes it');
  await rival.release();
});

test('the trainer sample store: its byte budget holds, a legacy store migrates in one MULTI, a restart reloads it', async () => {
  const keys = keyLayout(redis, config.redis.prefix);
  const [key, legacyKey] = [keys.trainStore('readings'), keys.trainSamples('readings')];
  assert.equal((await slotsOf([key, legacyKey])).size, 1);
  const spec = hourSpec(4, 3, 6, 6);
  const budget = 16 * 1024;
  const reading = (m: number, h: number) => ({
    machineId: `m-${m}`,
    ts: h * H,
    values: { v: Math.sin(h * 12.9898 + m) * 0.5, w: Math.cos(h * 78.233 - m) },
  });
  const legacy = { readings: [reading(0, 0), reading(0, 1)], logs: [], failures: [], invalid: {} };
  await redis.set(legacyKey, gzipSync(JSON.stringify({ snapshot: legacy, offsets: { 'readings/0': 2 } })));
  let offset = 2;
  for (let round = 0; round < 4; round++) {
    const store = new TrainStore(redis, key, spec, budget, createLogger('error'), legacyKey);
    assert.deepEqual(await store.load(), { 'readings/0': offset });
    if (round === 0) assert.equal(store.report().migrated, true);
    const readings = [];
    for (let m = 0; m < 10; m++)
      for (let h = round * 100 + 2; h < (round + 1) * 100 + 2; h++) readings.push(reading(m, h));
    store.add({
      readings,
      logs: [],
      failures: [{ machineId: 'm-3', ts: (round * 100 + 50) * H, component: undefined }],
    });
    offset += readings.length;
    store.enforceBudget({ 'readings/0': offset });
    await store.save();
    assert.equal(await redis.exists(legacyKey), 0, 'the legacy key went with the first save');
    const bytes = Object.entries(await redis.hgetallBuffer(key)).reduce(
      (n, [f, b]) => n + f.length + b.length,
      0,
    );
    assert.ok(bytes <= budget, `round ${round}: ${bytes} bytes stored, budget ${budget}`);
    assert.ok(store.report().windows.near > 0, 'near-failure windows are kept');
  }
  await deleteKeys(redis, [key]);
});

test('the evaluator store: a batch written in one MULTI comes back whole', async () => {
  const keys = keyLayout(redis, config.redis.prefix);
  assert.equal(
    (await slotsOf(['machines', 'tally', 'clock', 'lead:v1', 'drift'].map((n) => keys.evaluation(n)))).size,
    1,
  );
  const store = new EvaluationStore(redis, config.redis.prefix);
  const tally = Tally.fromJSON({ versions: { v1: { alerts: 3 } }, ignored: { 'alerts/duplicate': 2 } });
  const ledgers = [
    { machineId: 'm-1', alerts: [], failures: [], firstTs: 1, lastTs: 9 },
    { machineId: 'm-2', alerts: [], failures: [] },
  ];
  await store.save(ledgers, [], tally, new Map([['v1', [60, 120]]]), 9 * H);
  await store.save([], ['m-2'], tally, new Map([['v1', [30]]]), 10 * H);
  const loaded = await store.load(() => assert.fail('nothing is corrupt'));
  assert.deepEqual(loaded.machines, [ledgers[0]]);
  assert.equal(loaded.clock, 10 * H);
  assert.deepEqual(loaded.leads.get('v1'), [60, 120, 30]);
  assert.deepEqual(loaded.tally.toJSON(), tally.toJSON());
});

test('moving a single-Redis deployment onto the cluster: pdm keys copied under their cluster names, TTLs kept, the lock left', async () => {
  const single = testConfig(TINY_MODEL_ENV);
  const prefix = single.redis.prefix;
  const source = createRedis(single);
  try {
    const checkpoints = new CheckpointStore(source, prefix, 600);
    await checkpoints.record([decision('a}b', 9)]);
    await checkpoints.save([stateAt('m-1', 5), stateAt('a}b', 7)]);
    const model = await registerKnownModel(source, single, { threshold: 0.45 });
    const tally = Tally.fromJSON({ versions: { [model.version]: { alerts: 2 } } });
    await new EvaluationStore(source, prefix).save([], [], tally, new Map([[model.version, [90]]]), 3 * H);
    const lock = new RedisLock(source, standaloneKeys(prefix).trainLock(), 10_000);
    assert.ok(await lock.acquire());
    await source.set(`${prefix}not-ours`, 'x');

    const report = await copyToCluster(source, redis, prefix);
    await lock.release();
    assert.deepEqual([...report.skipped].sort(), [`${prefix}not-ours`, `${prefix}train:lock`]);
    assert.equal(report.copied.state, 2);

    const moved = new CheckpointStore(redis, prefix);
    const loaded = await moved.load(['m-1', 'a}b']);
    assert.deepEqual(loaded.get('a}b'), stateAt('a}b', 7));
    assert.deepEqual(
      (await moved.journaled(['a}b'])).get('a}b')?.map((d) => d.offset),
      [9],
    );
    const ttl = await redis.pttl(keyLayout(redis, prefix).machine('state', 'm-1'));
    assert.ok(ttl > 0 && ttl <= 600_000, `the checkpoint keeps its expiry (${ttl} ms)`);
    // The registry verifies its content hash on load: the model came across byte for byte.
    const registry = new ModelRegistry(redis, prefix);
    assert.equal(await registry.currentVersion(), model.version);
    const served = await registry.load(model.version);
    assert.equal(served.meta.threshold, 0.45);
    served.model.dispose();
    const evaluation = await new EvaluationStore(redis, prefix).load(() => assert.fail('nothing is corrupt'));
    assert.deepEqual(evaluation.leads.get(model.version), [90]);
    assert.equal(await redis.exists(keyLayout(redis, prefix).trainLock()), 0);
    // A key without an expiry stays without one (RESTORE's 0), not one that expires at once.
    assert.equal(await redis.pttl(keyLayout(redis, prefix).model('current')), -1);
    // The cluster now holds pdm keys: a second copy would roll the workers' checkpoints back, so it is
    // refused unless asked for, and then overwrites.
    await assert.rejects(copyToCluster(source, redis, prefix), CopyRefusedError);
    await checkpoints.save([stateAt('m-1', 6)]);
    await copyToCluster(source, redis, prefix, () => true, true);
    assert.deepEqual((await moved.load(['m-1'])).get('m-1'), stateAt('m-1', 6));
  } finally {
    const keys = await source.keys(`${prefix}*`);
    if (keys.length) await source.del(...keys);
    await withTimeout('redis quit', source.quit());
  }
});
