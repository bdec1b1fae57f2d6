import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRedis } from '../../src/redis/client';
import { ModelRegistry, PromotionFencedError } from '../../src/registry';
import { RedisLock } from '../../src/train/lock';
import { registerKnownModel, TINY_MODEL_ENV } from '../known-model';
import { testConfig, withTimeout } from '../helpers';

const config = testConfig(TINY_MODEL_ENV);
const redis = createRedis(config);
const registry = new ModelRegistry(redis, config.redis.prefix);
const expected = { window: 4, textMaxLen: 4 };
const lockKey = `${config.redis.prefix}train:lock`;

after(async () => {
  const keys = await redis.keys(`${config.redis.prefix}*`);
  if (keys.length) await redis.del(...keys);
  await withTimeout('redis quit', redis.quit());
});

/** Blocks the event loop, as a long synchronous predict in the training child does. */
function stall(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // busy: no timer, no renewal, no I/O
  }
}

test('a trainer stalled past its lock expiry learns it lost the lock, and its promotion is fenced off', async () => {
  const first = await registerKnownModel(redis, config);
  const stale = await registerKnownModel(redis, config, { promote: false });
  const fresh = await registerKnownModel(redis, config, { promote: false });
  const lost: string[] = [];
  const a = new RedisLock(redis, lockKey, 300, (reason) => lost.push(reason));
  const b = new RedisLock(redis, lockKey, 60_000);
  assert.equal(await a.acquire(), true);
  assert.equal(await b.acquire(), false, 'held: a second trainer is refused');

  stall(600); // past the 300 ms expiry: the renewal timer could not run
  await sleep(20); // let Redis expire the key before b tries
  assert.equal(await b.acquire(), true, 'expired: the second trainer takes over');
  await sleep(250); // a's next renewal finds b's token
  assert.equal(lost.length, 1, 'the loss is reported, not swallowed');
  assert.match(a.lost ?? '', /expired or was taken/);

  await assert.rejects(
    registry.promote(stale.version, expected, a.fence()),
    (e: unknown) => e instanceof PromotionFencedError && /no longer held/.test((e as Error).message),
  );
  assert.equal(await registry.currentVersion(), first.version, 'the stale run changed nothing');
  assert.equal(await registry.promote(fresh.version, expected, b.fence()), first.version);
  assert.equal(await registry.currentVersion(), fresh.version);
  assert.deepEqual(
    (await registry.list()).filter((r) => r.current).map((r) => r.meta.version),
    [fresh.version],
  );

  await a.release(); // not the holder: must not delete b's lock
  assert.equal(await b.holder(), b.fence().token);
  await b.release();
  assert.equal(await b.holder(), null);
});
