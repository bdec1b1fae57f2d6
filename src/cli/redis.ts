import type { Config } from '../config';
import { createRedis, openRedis } from '../redis/client';
import { copyToCluster } from '../redis/copy';
import { MACHINE_KEY_KINDS } from '../redis/keys';
import type { FlagSpecs, ParsedArgs } from './args';
import { UsageError } from './args';

export const REDIS_FLAGS: FlagSpecs = {
  from: {
    type: 'string',
    value: 'URL',
    help: 'required: the single Redis to copy from (redis:// or rediss://)',
  },
  replace: {
    type: 'boolean',
    help: 'copy even though the cluster already holds keys under the prefix, overwriting them',
  },
  'skip-checkpoints': {
    type: 'boolean',
    help: 'leave the machine checkpoints, fences and journals behind (pdm replay rebuilds them)',
  },
};

const CHECKPOINT_GROUPS = new Set<string>(MACHINE_KEY_KINDS);

/**
 * `pdm redis copy --from <url>`: moves a single-Redis deployment onto the Redis Cluster this config names
 * (PDM_REDIS_CLUSTER), renaming the keys to the cluster layout. Prints a JSON report; exit 0.
 */
export async function runRedisCommand(config: Config, args: ParsedArgs): Promise<number> {
  if (args.positional[0] !== 'copy')
    throw new UsageError(
      args.positional[0] === undefined
        ? 'redis: an action is needed (copy)'
        : `redis: unknown action "${args.positional[0]}" (copy)`,
    );
  const from = args.flags.from;
  if (!from || !/^rediss?:\/\/./.test(from) || !URL.canParse(from))
    throw new UsageError(
      'redis copy: --from must be the redis:// or rediss:// URL of the single Redis to copy',
    );
  if (!config.redis.cluster)
    throw new UsageError(
      'redis copy writes into a Redis Cluster: set PDM_REDIS_CLUSTER=true and PDM_REDIS_URL to its seed nodes',
    );
  // The source is reached with --from alone (credentials in the URL): PDM_REDIS_USERNAME, PDM_REDIS_PASSWORD
  // and PDM_REDIS_TLS_CA_FILE are the cluster's.
  const source = createRedis({
    ...config,
    redis: {
      ...config.redis,
      url: from,
      cluster: undefined,
      username: undefined,
      password: undefined,
      tlsCaFile: undefined,
    },
  });
  const target = openRedis(config);
  try {
    const skip = args.flags['skip-checkpoints'] === 'true';
    const report = await copyToCluster(
      source,
      target,
      config.redis.prefix,
      (g) => !(skip && CHECKPOINT_GROUPS.has(g)),
      args.flags.replace === 'true',
    );
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return 0;
  } finally {
    source.disconnect();
    target.disconnect();
  }
}
