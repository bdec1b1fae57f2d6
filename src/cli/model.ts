import { openRedis } from '../redis/client';
import type { Config } from '../config';
import { ModelRegistry } from '../registry';
import { UsageError } from './args';
import { formatCompare, formatLive, readLiveFigures } from '../evaluate';

const ACTIONS = ['list', 'promote', 'rollback', 'shadow', 'compare'] as const;
type Action = (typeof ACTIONS)[number];
const ACTION_LIST = 'list, promote <version>, rollback, shadow <version> | --clear, or compare';

/** `pdm model list | promote <version> | rollback | shadow <version> | shadow --clear | compare`. */
export async function runModelCommand(
  config: Config,
  action: string | undefined,
  version: string | undefined,
  clear = false,
): Promise<number> {
  // Usage first: a bad command line is answered without touching Redis.
  if (!(ACTIONS as readonly (string | undefined)[]).includes(action))
    throw new UsageError(
      action === undefined
        ? `model: an action is needed (${ACTION_LIST})`
        : `model: unknown action "${action}" (${ACTION_LIST})`,
    );
  if (action === 'promote' && !version)
    throw new UsageError('model promote: which version? (pdm model list shows them)');
  if (action === 'shadow' && !version === !clear)
    throw new UsageError('model shadow: give a version, or --clear (not both)');
  if (clear && action !== 'shadow') throw new UsageError('--clear goes with `pdm model shadow`');
  // Shadow scores travel on the scores topic only: without one, workers would score for nobody.
  if (action === 'shadow' && version && !config.topics.scores)
    throw new UsageError(
      'model shadow: PDM_TOPIC_SCORES is not set; shadow scores are published there, so set it (for the workers and the evaluator too)',
    );
  const redis = openRedis(config, { lazyConnect: true });
  await redis.connect();
  const registry = new ModelRegistry(redis, config.redis.prefix);
  const expected = { window: config.model.window, textMaxLen: config.model.textMaxLen };
  try {
    return await run(action as Action, registry, { redis, config, expected, version });
  } finally {
    redis.disconnect();
  }
}

async function run(
  action: Action,
  registry: ModelRegistry,
  ctx: {
    redis: ReturnType<typeof openRedis>;
    config: Config;
    expected: { window: number; textMaxLen: number };
    version: string | undefined;
  },
): Promise<number> {
  const { redis, config, expected, version } = ctx;
  const out = (line: string) => process.stdout.write(`${line}\n`);
  if (action === 'list') {
    const rows = await registry.list();
    const live = await readLiveFigures(redis, config.redis.prefix);
    if (rows.length === 0) out('no models registered');
    for (const { meta, current, shadow } of rows) {
      const m = meta.metrics;
      out(
        `${current ? '*' : shadow ? 's' : ' '} ${meta.version.padEnd(6)} ${meta.createdAt}  threshold ${meta.threshold.toFixed(3)}  pr_auc ${m.pr_auc?.toFixed(3) ?? 'n/a'}  roc_auc ${m.roc_auc?.toFixed(3) ?? 'n/a'}  window ${meta.window}  sensors ${meta.sensors.join(',')}  vocab ${meta.vocabVersion}  ${meta.branches}${shadow ? '  (shadow)' : ''}`,
      );
      const f = live.get(meta.version);
      if (f) out(`         ${formatLive(f)}`);
    }
    return 0;
  }
  if (action === 'promote' && version) {
    const previous = await registry.promote(version, expected);
    out(`promoted ${version} (was ${previous ?? 'none'})`);
    return 0;
  }
  if (action === 'shadow') {
    if (!version) {
      const cleared = await registry.clearShadow();
      out(cleared ? `shadow ${cleared} cleared` : 'no shadow was set');
      return 0;
    }
    const previous = await registry.setShadow(version, expected);
    out(
      `shadow ${version} set (was ${previous ?? 'none'}); workers pick it up within PDM_MODEL_POLL_INTERVAL`,
    );
    return 0;
  }
  if (action === 'compare') {
    const [champion, shadow] = await Promise.all([registry.currentVersion(), registry.shadowVersion()]);
    if (!champion) {
      out('no model is serving');
      return 3;
    }
    const live = await readLiveFigures(redis, config.redis.prefix);
    out(formatCompare(champion, shadow, live));
    return 0;
  }
  const { from, to } = await registry.rollback();
  out(`rolled back from ${from} to ${to}`);
  return 0;
}
