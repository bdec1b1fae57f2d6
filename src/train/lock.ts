import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../redis/types';
import type { Fence } from '../registry';

const RENEW =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";
const RELEASE =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/**
 * A Redis lock with expiry (SET NX PX), renewed while held, released only by its owner (compare-and-delete
 * in Lua). If the holder dies, the lock expires and another trainer can take over.
 *
 * Renewal runs on the holder's event loop, which a long synchronous step can stall past the expiry; the
 * lock is then held by nobody, or by another trainer. Renewal cannot prevent that, so what the lock
 * protects is written through a fence (the token checked inside the same Redis script as the write), and
 * a renewal that finds the token gone reports the loss instead of swallowing it.
 */
export class RedisLock {
  private readonly token = randomUUID();
  private renewTimer: NodeJS.Timeout | undefined;
  private lostReason: string | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly key: string,
    private readonly ttlMs = 60_000,
    private readonly onLost: (reason: string) => void = () => undefined,
  ) {}

  async acquire(): Promise<boolean> {
    const ok = (await this.redis.set(this.key, this.token, 'PX', this.ttlMs, 'NX')) === 'OK';
    if (ok) {
      this.lostReason = undefined;
      this.renewTimer = setInterval(() => void this.renew(), this.ttlMs / 3);
      this.renewTimer.unref();
    }
    return ok;
  }

  /** Why the lock was lost, or undefined while it is (as far as the last renewal knows) held. */
  get lost(): string | undefined {
    return this.lostReason;
  }

  fence(): Fence {
    return { key: this.key, token: this.token };
  }

  async holder(): Promise<string | null> {
    return this.redis.get(this.key);
  }

  async release(): Promise<void> {
    clearInterval(this.renewTimer);
    await this.redis.eval(RELEASE, 1, this.key, this.token);
  }

  private async renew(): Promise<void> {
    try {
      if ((await this.redis.eval(RENEW, 1, this.key, this.token, this.ttlMs)) === 1) return;
      // The key expired (the renewal came too late) or another holder took it: a definite loss.
      clearInterval(this.renewTimer);
      this.lostReason = `the lock ${this.key} expired or was taken by another holder (renewal every ${this.ttlMs / 3} ms came too late)`;
      this.onLost(this.lostReason);
    } catch {
      // Redis unreachable: the lock may still be held; the next renewal or the fenced write decides.
    }
  }
}
