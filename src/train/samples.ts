import { gunzipSync } from 'node:zlib';
import type { RedisClient } from '../redis/types';
import type { Offsets, TopicSnapshot } from './source';

/**
 * The trainer's sample store before the bounded one (src/train/store.ts): every record of the retention
 * as gzipped JSON in one key. Read once to convert it; nothing writes this format any more.
 */
export async function readLegacySamples(
  redis: RedisClient,
  key: string,
): Promise<{ snapshot: TopicSnapshot; offsets: Offsets } | undefined> {
  const body = await redis.getBuffer(key);
  if (!body) return undefined;
  try {
    const parsed = JSON.parse(gunzipSync(body).toString('utf8')) as {
      snapshot: TopicSnapshot;
      offsets: Offsets;
    };
    return { snapshot: { ...parsed.snapshot, invalid: {} }, offsets: parsed.offsets };
  } catch {
    return undefined; // unreadable: the new store starts from what the topics still hold
  }
}
