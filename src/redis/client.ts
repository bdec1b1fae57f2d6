import { readFileSync } from 'node:fs';
import Redis, { Cluster } from 'ioredis';
import type { ClusterOptions, RedisOptions } from 'ioredis';
import type { Config } from '../config';
import { RedisConnectGuard } from '../connect';
import type { RedisClient } from './types';

export type { RedisClient } from './types';
export { isCluster } from './types';

/** Every call settles: bounded retries per command and a command timeout, so an outage surfaces as errors. */
const COMMAND_DEFAULTS = { maxRetriesPerRequest: 3, commandTimeout: 5_000 } as const;
const backoff = (times: number) => Math.min(200 * times, 2_000);

/** Credentials (from the URL or PDM_REDIS_USERNAME/PDM_REDIS_PASSWORD) and TLS for `rediss://` with an optional CA. */
function connectionOptions(config: Config): RedisOptions {
  const r = config.redis;
  const tls = r.url.startsWith('rediss://')
    ? {
        rejectUnauthorized: r.tlsRejectUnauthorized,
        ...(r.tlsCaFile ? { ca: readFileSync(r.tlsCaFile) } : {}),
      }
    : undefined;
  return {
    ...(r.username ? { username: r.username } : {}),
    ...(r.password ? { password: r.password } : {}),
    ...(tls ? { tls } : {}),
  };
}

/**
 * One Redis (never a cluster): what PDM_REDIS_URL names, with credentials, TLS, bounded retries and a
 * command timeout. Tests, benches and tools that talk to one node use it; services use openRedis.
 */
export function createRedis(config: Config, overrides: RedisOptions = {}): Redis {
  // A certificate it cannot verify, refused credentials or a TLS-only port fail at once (src/connect).
  const guard = new RedisConnectGuard(config.redis.url);
  const { retryStrategy, ...rest } = overrides;
  return guard.attach(
    new Redis(config.redis.url, {
      ...COMMAND_DEFAULTS,
      retryStrategy: guard.retryStrategy(retryStrategy ?? backoff),
      ...connectionOptions(config),
      ...rest,
    }),
  );
}

/**
 * The one way pdm's services open Redis: a single Redis as createRedis does, or with PDM_REDIS_CLUSTER a
 * Redis Cluster client over the seed nodes in PDM_REDIS_URL (it discovers the others). Credentials, TLS,
 * retries and the command timeout apply to every node; `overrides` as for createRedis (`lazyConnect`
 * applies to the cluster, the rest to each node's connection).
 */
export function openRedis(config: Config, overrides: RedisOptions = {}): RedisClient {
  const cluster = config.redis.cluster;
  if (!cluster) return createRedis(config, overrides);
  const { lazyConnect, retryStrategy, ...rest } = overrides;
  const seeds = cluster.seeds.map((url) => {
    const u = new URL(url);
    return { host: u.hostname || '127.0.0.1', port: Number(u.port || 6379) };
  });
  const seedAuth = new URL(config.redis.url);
  const options: ClusterOptions = {
    ...(lazyConnect ? { lazyConnect } : {}),
    clusterRetryStrategy: (times) => (retryStrategy ?? backoff)(times) ?? null,
    redisOptions: {
      ...COMMAND_DEFAULTS,
      ...connectionOptions(config),
      // Credentials written in the seed URL win over PDM_REDIS_USERNAME/PASSWORD, as they do for a single
      // Redis (ioredis fills only what its URL leaves out).
      ...(seedAuth.username ? { username: decodeURIComponent(seedAuth.username) } : {}),
      ...(seedAuth.password ? { password: decodeURIComponent(seedAuth.password) } : {}),
      ...rest,
    },
  };
  return new Cluster(seeds, options);
}
