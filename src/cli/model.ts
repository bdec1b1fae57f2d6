import { createRedis } from '../redis/client';
import type { Config } from '../config';
import { ModelRegistry } from '../registry';
import { UsageError } from './args';
import { formatLive, readLiveFigures } from '../evaluate';

/** `pdm model list | promote <version> | rollback`. */
export async function runModelCommand(
  config: Config,
  action: string | undefined,
  version: string | undefined,
): Promise<number> {
  // Usage first: a bad command line is answered without touching Redis.
  if (action !== 'list' && action !== 'promote' && action !== 'rollback')
    throw new UsageError(
      action === undefined
        ? 'model: an action is needed (list, promote <version> or rollback)'
        : `model: unknown action "${action}" (list, promote <version> or rollback)`,
    );
  if (action === 'promote' && !version)
    throw new UsageError('model promote: which version? (pdm model list shows them)');
  const redis = createRedis(config, { lazyConnect: true });
  await redis.connect();
  const registry = new ModelRegistry(redis, config.redis.prefix);
  const expected = { window: config.model.window, textMaxLen: config.model.textMaxLen };
  try {
    if (action === 'list') {
      const rows = await registry.list();
      const live = await readLiveFigures(redis, config.redis.prefix);
      if (rows.length === 0) process.stdout.write('no models registered\n');
      for (const { meta, current } of rows) {
        const m = meta.metrics;
        process.stdout.write(
          `${current ? '*' : ' '} ${meta.version.padEnd(6)} ${meta.createdAt}  threshold ${meta.threshold.toFixed(3)}  pr_auc ${m.pr_auc?.toFixed(3) ?? 'n/a'}  roc_auc ${m.roc_auc?.toFixed(3) ?? 'n/a'}  window ${meta.window}  sensors ${meta.sensors.join(',')}  vocab ${meta.vocabVersion}  ${meta.branches}\n`,
        );
        const f = live.get(meta.version);
        if (f) process.stdout.write(`         ${formatLive(f)}\n`);
      }
      return 0;
    }
    if (action === 'promote' && version) {
      const previous = await registry.promote(version, expected);
      process.stdout.write(`promoted ${version} (was ${previous ?? 'none'})\n`);
      return 0;
    }
    const { from, to } = await registry.rollback();
    process.stdout.write(`rolled back from ${from} to ${to}\n`);
    return 0;
  } finally {
    redis.disconnect();
  }
}
