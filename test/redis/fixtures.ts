/** What the Redis Cluster tests share: a local three-master cluster for the file, its config and a client. */
import { after } from 'node:test';
import type { Config } from '../../src/config';
import { openRedis } from '../../src/redis/client';
import type { RedisClient } from '../../src/redis/client';
import { startLocalRedisCluster } from '../../src/stack/redis-cluster';
import type { LocalRedisCluster } from '../../src/stack/redis-cluster';
import { testConfig, withTimeout } from '../helpers';
import { TINY_MODEL_ENV } from '../known-model';

export interface ClusterFixture {
  readonly cluster: LocalRedisCluster;
  /** testConfig with PDM_REDIS_CLUSTER over `seeds` of the nodes (the client discovers the others). */
  readonly config: Config;
  /** The client services use (openRedis), closed after the file. */
  readonly redis: RedisClient;
}

/**
 * The file's cluster: started by the first call (await it in the file's before()), stopped after the
 * file's tests. One per file, so that a test file runs with others in parallel.
 */
export function useRedisCluster(
  seeds: number,
  overrides: Record<string, string> = {},
): () => Promise<ClusterFixture> {
  let started: Promise<ClusterFixture> | undefined;
  const start = async (): Promise<ClusterFixture> => {
    const cluster = await startLocalRedisCluster(3);
    const config = testConfig({
      ...TINY_MODEL_ENV,
      PDM_REDIS_CLUSTER: 'true',
      PDM_REDIS_URL: cluster.urls.slice(0, seeds).join(','),
      ...overrides,
    });
    return { cluster, config, redis: openRedis(config) };
  };
  after(async () => {
    const fixture = await started;
    if (!fixture) return;
    try {
      await withTimeout('cluster quit', fixture.redis.quit());
    } finally {
      // Whatever the client did, the three redis-server processes must not outlive the file.
      await withTimeout('cluster stop', fixture.cluster.stop());
    }
  });
  return () => (started ??= start());
}
