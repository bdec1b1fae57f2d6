import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';

/**
 * A Redis lock with expiry (SET NX PX), renewed while held, released only by its owner (compare-and-delete
 * in Lua). If the holder dies, the lock expires and another trainer can take over.
 */
export class RedisLock {
  private readonly token = randomUUID();
  private renewTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly ttlMs = 60_000,
  ) {}

  async acquire(): Promise<boolean> {
    const ok = (await this.redis.set(this.key, this.token, 'PX', this.ttlMs, 'NX')) === 'OK';
    if (ok) {
      this.renewTimer = setInterval(() => {
        this.redis
          .eval("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end", 1, this.key, this.token, this.ttlMs)
          .catch(() => undefined);
      }, this.ttlMs / 3);
      this.renewTimer.unref();
    }
    return ok;
  }

  async holder(): Promise<string | null> {
    return this.redis.get(this.key);
  }

  async release(): Promise<void> {
    clearInterval(this.renewTimer);
    await this.redis.eval("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end", 1, this.key, this.token);
  }
}
