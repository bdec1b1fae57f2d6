import { randomUUID } from 'node:crypto';
import { loadConfig } from '../src/config';
import { createLogger } from '../src/log';
import type { Branches } from '../src/model/build';
import { createRedis } from '../src/redis/client';
import { trainOnce } from '../src/train';
import { fleetSnapshot } from '../test/helpers';
import { table } from './stats';

/**
 * Does the dual input earn its keep? The simulator's failures show in the sensors, in the log text or in
 * both (by episode). The same data, split and training settings for three models: both branches, sensors
 * only, text only; holdout PR-AUC of each. Registered under a throw-away Redis prefix, never promoted.
 */
export async function benchBranches(quick: boolean): Promise<Record<string, unknown>> {
  const snapshot = fleetSnapshot({ machines: quick ? 20 : 30, days: quick ? 40 : 60, seed: 11 });
  const prefix = `benchbr${randomUUID().slice(0, 6)}:`;
  const config = loadConfig(process.env, {
    PDM_REDIS_PREFIX: prefix,
    PDM_LOG_LEVEL: 'warn',
    PDM_TRAIN_EPOCHS: quick ? '3' : '8',
    PDM_TRAIN_MAX_WINDOWS: quick ? '1500' : '4000',
  });
  const results: Record<
    string,
    {
      prAuc: number | null | undefined;
      rocAuc: number | null | undefined;
      f1: number | null | undefined;
      seconds: number;
    }
  > = {};
  try {
    for (const branches of ['both', 'sensors', 'text'] as Branches[]) {
      const s = await trainOnce(config, createLogger('warn'), { branches, promote: false, snapshot });
      results[branches] = {
        prAuc: s.metrics.pr_auc,
        rocAuc: s.metrics.roc_auc,
        f1: s.metrics.f1,
        seconds: s.training.seconds,
      };
    }
  } finally {
    const redis = createRedis(config);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  }
  const f = (x: number | null | undefined) => (x === null || x === undefined ? 'n/a' : x.toFixed(3));
  console.log(
    table(
      `Dual input vs one branch (simulated fleet, ${snapshot.readings.length} readings, ${snapshot.failures.length} failures; holdout)`,
      ['model', 'PR-AUC', 'ROC-AUC', 'F1', 'train s'],
      Object.entries(results).map(([k, v]) => [k, f(v.prAuc), f(v.rocAuc), f(v.f1), v.seconds]),
    ),
  );
  return { readings: snapshot.readings.length, failures: snapshot.failures.length, results };
}
