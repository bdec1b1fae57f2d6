import type { Cluster } from 'ioredis';
import type Redis from 'ioredis';

/**
 * What every module that keeps state in Redis takes: one Redis or a Redis Cluster client. Both speak the
 * same commands (ioredis's Commander), MULTI and pipelines; what differs is where keys live, which
 * src/redis/keys.ts (names) and src/redis/batch.ts (pipelines, multi-key reads and deletes, SCAN) handle.
 */
export type RedisClient = Redis | Cluster;

export function isCluster(redis: RedisClient): redis is Cluster {
  return redis.isCluster;
}
