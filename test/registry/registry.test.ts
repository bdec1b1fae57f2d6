import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { disposeModel } from '../../src/model/tf';
import { createRedis } from '../../src/redis/client';
import { ModelRefusedError, ModelRegistry } from '../../src/registry';
import { registerKnownModel, TINY_MODEL_ENV } from '../known-model';
import { testConfig, withTimeout } from '../helpers';

const config = testConfig(TINY_MODEL_ENV);
const redis = createRedis(config);
const registry = new ModelRegistry(redis, config.redis.prefix);
const expected = { window: 4, textMaxLen: 4 };
const refused = (code: string) => (e: unknown) => e instanceof ModelRefusedError && e.code === code;

after(async () => {
  const keys = await redis.keys(`${config.redis.prefix}*`);
  if (keys.length) await redis.del(...keys);
  await withTimeout('redis quit', redis.quit());
});

test('register, promote, list and rollback', async () => {
  const v1 = await registerKnownModel(redis, config, { threshold: 0.4 });
  const v2 = await registerKnownModel(redis, config, { threshold: 0.6 });
  assert.equal(await registry.currentVersion(), v2.version);
  const listed = await registry.list();
  assert.deepEqual(
    listed.map((r) => [r.meta.version, r.current]),
    [
      [v1.version, false],
      [v2.version, true],
    ],
  );
  const loaded = await registry.load(v2.version, expected);
  assert.equal(loaded.meta.threshold, 0.6);
  assert.equal(loaded.meta.hash, v2.hash);
  disposeModel(loaded.model);
  assert.deepEqual(await registry.rollback(), { from: v2.version, to: v1.version });
  assert.equal(await registry.currentVersion(), v1.version);
});

test('a corrupt, tampered or incompatible model is refused with a clear reason; the current one stays', async () => {
  const good = await registerKnownModel(redis, config);
  const bad = await registerKnownModel(redis, config, { promote: false });
  await redis.set(`${config.redis.prefix}model:${bad.version}:weights`, Buffer.from('garbage'));
  await assert.rejects(registry.promote(bad.version, expected), refused('hash_mismatch'));
  assert.equal(await registry.currentVersion(), good.version);

  const meta = await registerKnownModel(redis, config, { promote: false });
  await redis.set(
    `${config.redis.prefix}vocab:${meta.vocabVersion}`,
    JSON.stringify({
      format: 'keras-tokenizer',
      version: 1,
      numWords: 20,
      oovToken: null,
      wordIndex: [['x', 1]],
    }),
  );
  await assert.rejects(registry.load(meta.version, expected), refused('hash_mismatch'));
  await redis.del(`${config.redis.prefix}vocab:${meta.vocabVersion}`);
  await assert.rejects(registry.load(meta.version, expected), refused('vocab_mismatch'));

  const other = await registerKnownModel(redis, config, { promote: false });
  await assert.rejects(
    registry.load(other.version, { window: 24, textMaxLen: 4 }),
    (e: unknown) => refused('incompatible')(e) && /PDM_WINDOW=24/.test((e as Error).message),
  );
  await redis.set(`${config.redis.prefix}model:${other.version}:meta`, '{"version":');
  await assert.rejects(registry.load(other.version), refused('corrupt'));
  await assert.rejects(registry.load('v999'), refused('missing'));
  assert.equal(await registry.currentVersion(), good.version);
});

test('shadow: set like a promotion (unknown, incompatible and serving versions refused), listed, cleared, ended by promotion', async () => {
  const champion = await registerKnownModel(redis, config);
  const challenger = await registerKnownModel(redis, config, { promote: false, threshold: 0.3 });
  await assert.rejects(registry.setShadow('v999', expected), refused('missing'));
  await assert.rejects(
    registry.setShadow(challenger.version, { window: 24, textMaxLen: 4 }),
    (e: unknown) => refused('incompatible')(e) && /PDM_WINDOW=24/.test((e as Error).message),
  );
  await assert.rejects(
    registry.setShadow(champion.version, expected),
    (e: unknown) => refused('incompatible')(e) && /serving version/.test((e as Error).message),
  );
  assert.equal(await registry.shadowVersion(), undefined, 'a refusal leaves the pointer as it was');
  assert.equal(await registry.currentVersion(), champion.version, 'the champion keeps serving');

  assert.equal(await registry.setShadow(challenger.version, expected), undefined);
  assert.equal(await registry.shadowVersion(), challenger.version);
  const listed = new Map((await registry.list()).map((r) => [r.meta.version, r]));
  assert.deepEqual(
    [listed.get(champion.version)?.shadow, listed.get(challenger.version)?.shadow],
    [false, true],
  );
  assert.equal(await registry.clearShadow(), challenger.version);
  assert.equal(await registry.shadowVersion(), undefined);
  assert.equal(await registry.clearShadow(), undefined, 'clearing twice is harmless');

  // Promoting the shadow ends its shadowing: a version never challenges itself.
  await registry.setShadow(challenger.version, expected);
  await registry.promote(challenger.version, expected);
  assert.equal(await registry.shadowVersion(), undefined);
});
