import type Redis from 'ioredis';
import { sleep } from './harness';

/**
 * Samples every checkpoint fence under a Redis prefix every 200 ms until stopped, and counts how often a
 * bookmark's applied offset (per machine, role and place) was seen lower than before: a fenced checkpoint
 * must never move it back.
 */
export class FenceSampler {
  private readonly seen = new Map<string, number>();
  decreases = 0;
  private sampling = true;
  private readonly running: Promise<void>;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    this.running = this.loop();
  }

  /** Bookmarks (machine, role, place) seen so far. */
  get bookmarks(): number {
    return this.seen.size;
  }

  async stop(): Promise<void> {
    this.sampling = false;
    await this.running;
  }

  private async loop(): Promise<void> {
    while (this.sampling) {
      const keys = await this.redis.keys(`${this.prefix}fence:*`);
      const values = keys.length ? await this.redis.mget(...keys) : [];
      keys.forEach((key, i) => {
        const fence = JSON.parse(values[i] ?? '{}') as Record<string, [string, number]>;
        for (const [role, [place, offset]] of Object.entries(fence)) {
          const id = `${key}|${role}|${place}`;
          if ((this.seen.get(id) ?? -1) > offset) this.decreases++;
          this.seen.set(id, Math.max(this.seen.get(id) ?? -1, offset));
        }
      });
      await sleep(200);
    }
  }
}
