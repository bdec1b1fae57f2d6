import { readFileSync } from 'node:fs';
import Redis from 'ioredis';
import type { RedisOptions } from 'ioredis';
import type { Config } from '../config';
import { RedisConnectGuard } from '../connect';

/**
 * The one way this project opens Redis: credentials (password or ACL user + password, from the URL or
 * PDM_REDIS_USERNAME/PDM_REDIS_PASSWORD), TLS for `rediss://` URLs with an optional CA file, and bounded
 * retries plus a command timeout so that every call settles during an outage.
 */
export function createRedis(config: Config, overrides: RedisOptions = {}): Redis {
  const r = config.redis;
  const tls = r.url.startsWith('rediss://')
    ? {
        rejectUnauthorized: r.tlsRejectUnauthorized,
        ...(r.tlsCaFile ? { ca: readFileSync(r.tlsCaFile) } : {}),
      }
    : undefined;
  // A certificate it cannot verify, refused credentials or a TLS-only port fail at once (src/connect).
  const guard = new RedisConnectGuard(r.url);
  const { retryStrategy, ...rest } = overrides;
  return guard.attach(
    new Redis(r.url, {
      maxRetriesPerRequest: 3,
      commandTimeout: 5_000,
      retryStrategy: guard.retryStrategy(retryStrategy ?? ((times) => Math.min(200 * times, 2_000))),
      ...(r.username ? { username: r.username } : {}),
      ...(r.password ? { password: r.password } : {}),
      ...(tls ? { tls } : {}),
      ...rest,
    }),
  );
}
