/** The key layout (src/redis/keys.ts) and the slot function (src/redis/slot.ts), without Redis; and the config. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config';
import { clusterKeyOf, clusterKeys, standaloneKeys } from '../../src/redis/keys';
import type { KeyLayout } from '../../src/redis/keys';
import { hashTagOf, keySlot } from '../../src/redis/slot';

const all = (k: KeyLayout, id: string) => [
  k.machine('state', id),
  k.machine('fence', id),
  k.machine('journal', id),
  k.model('v3', 'meta'),
  k.model('current'),
  k.vocab('abc'),
  k.trainLock(),
  k.trainStore('pdm.sensor-readings'),
  k.trainSamples('pdm.sensor-readings'),
  k.evaluation('tally'),
  k.driftTriggered(),
];

test('a single Redis keeps the key names pdm always used (no migration)', () => {
  assert.deepEqual(all(standaloneKeys('pdm:'), 'm-017'), [
    'pdm:state:m-017',
    'pdm:fence:m-017',
    'pdm:journal:m-017',
    'pdm:model:v3:meta',
    'pdm:model:current',
    'pdm:vocab:abc',
    'pdm:train:lock',
    'pdm:train:store:pdm.sensor-readings',
    'pdm:train:samples:pdm.sensor-readings',
    'pdm:eval:tally',
    'pdm:train:drift-triggered',
  ]);
});

test('on a cluster each atomic group hashes to one slot, and machines spread over the slots', () => {
  const k = clusterKeys('pdm:');
  // Ingest refuses an empty machine id (src/ingest/schemas.ts); any other id makes a non-empty tag.
  for (const id of ['m-017', 'a}b', '}x', '{y}', '%7B', 'm%'] as const) {
    const slots = new Set(
      ['state', 'fence', 'journal'].map((kind) => keySlot(k.machine(kind as 'state', id))),
    );
    assert.equal(slots.size, 1, `machine ${JSON.stringify(id)}: ${[...slots].join(',')}`);
    assert.equal(k.machineIdOf('state', k.machine('state', id)), id, 'the id comes back from the key');
  }
  const registry = new Set(
    [k.model('v3', 'meta'), k.model('current'), k.vocab('abc'), k.trainLock()].map(keySlot),
  );
  assert.equal(registry.size, 1, 'registry, vocabularies and the training lock');
  assert.equal(keySlot(k.trainStore('t')), keySlot(k.trainSamples('t')), 'the store and its legacy key');
  assert.equal(keySlot(k.evaluation('tally')), keySlot(k.evaluation('machines')), 'the evaluator');
  const machineSlots = new Set(Array.from({ length: 200 }, (_, i) => keySlot(k.machine('state', `m-${i}`))));
  assert.ok(machineSlots.size > 150, `200 machines over ${machineSlots.size} slots`);
});

test('every single-Redis key maps to its cluster name for a move onto a cluster, except the lock', () => {
  for (const id of ['m-017', 'a}b:c']) {
    const single = all(standaloneKeys('pdm:'), id);
    const cluster = all(clusterKeys('pdm:'), id);
    single.forEach((key, i) =>
      assert.equal(clusterKeyOf('pdm:', key), key === 'pdm:train:lock' ? undefined : cluster[i], key),
    );
  }
  assert.equal(clusterKeyOf('pdm:', 'other:state:m-1'), undefined, 'another prefix');
  assert.equal(clusterKeyOf('pdm:', 'pdm:unknown'), undefined);
});

test('hash tags follow the cluster spec: first non-empty {...}, else the whole key', () => {
  assert.equal(hashTagOf('user:{123}:profile'), '123');
  assert.equal(hashTagOf('foo{}{bar}'), 'foo{}{bar}');
  assert.equal(hashTagOf('foo{{bar}}zap'), '{bar');
  assert.equal(hashTagOf('plain'), 'plain');
  // Reference values from the cluster specification's CRC16 (XMODEM) test vector and CLUSTER KEYSLOT.
  assert.equal(keySlot('123456789'), 0x31c3 % 16_384);
  assert.equal(keySlot('{user1000}.following'), keySlot('{user1000}.followers'));
});

test('PDM_REDIS_CLUSTER: several seed URLs; misconfigurations are refused naming the variable', () => {
  const c = loadConfig({
    PDM_REDIS_CLUSTER: 'true',
    PDM_REDIS_URL: 'redis://10.0.0.1:7000, redis://10.0.0.2:7000',
  }).redis;
  assert.deepEqual(c.cluster?.seeds, ['redis://10.0.0.1:7000', 'redis://10.0.0.2:7000']);
  assert.equal(c.url, 'redis://10.0.0.1:7000');
  assert.equal(loadConfig({}).redis.cluster, undefined);
  // A single Redis's password may hold a comma: one URL, as before clusters, not a list of seed nodes.
  const comma = loadConfig({ PDM_REDIS_URL: 'redis://user:s3c,ret@redis:6379' }).redis;
  assert.equal(comma.url, 'redis://user:s3c,ret@redis:6379');
  assert.equal(comma.cluster, undefined);
  const refused = (env: Record<string, string>, pattern: RegExp) =>
    assert.throws(
      () => loadConfig(env),
      (e: unknown) => e instanceof ConfigError && pattern.test(e.message),
    );
  refused({ PDM_REDIS_URL: 'redis://a:1,redis://b:2' }, /PDM_REDIS_URL holds 2 URLs.*PDM_REDIS_CLUSTER=true/);
  refused(
    { PDM_REDIS_CLUSTER: 'true', PDM_REDIS_URL: 'redis://a:1,http://b:2' },
    /PDM_REDIS_URL=.*redis:\/\//,
  );
  // A refused list never shows a password, whole or in pieces.
  assert.throws(
    () => loadConfig({ PDM_REDIS_CLUSTER: 'true', PDM_REDIS_URL: 'redis://u:s3c,ret@a:1,http://b:2' }),
    (e: unknown) => e instanceof ConfigError && !/s3c|ret@/.test(e.message),
  );
  refused({ PDM_REDIS_CLUSTER: 'yes' }, /PDM_REDIS_CLUSTER/);
  refused({ PDM_REDIS_CLUSTER: '1', PDM_REDIS_PREFIX: 'app{1}:' }, /PDM_REDIS_PREFIX=.*hash tags/);
  refused(
    { PDM_REDIS_CLUSTER: '1', PDM_REDIS_URL: 'redis://a:1,rediss://b:2' },
    /PDM_REDIS_URL mixes redis:\/\/ and rediss:\/\//,
  );
});
