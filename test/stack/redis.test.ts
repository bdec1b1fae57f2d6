import assert from 'node:assert/strict';
import { test } from 'node:test';
import Redis from 'ioredis';
import { testConfig, withTimeout } from '../helpers';

test('ioredis round trip against the real Redis', async () => {
  const config = testConfig();
  const redis = new Redis(config.redis.url);
  const key = `${config.redis.prefix}smoke`;
  try {
    await redis.set(key, 'value', 'EX', 60);
    assert.equal(await redis.get(key), 'value');
    const buf = Buffer.from([0, 1, 2, 255]);
    await redis.set(`${key}:bin`, buf, 'EX', 60);
    assert.deepEqual(await redis.getBuffer(`${key}:bin`), buf);
  } finally {
    await redis.del(key, `${key}:bin`);
    await withTimeout('redis quit', redis.quit());
  }
});
