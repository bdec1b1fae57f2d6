/**
 * Champion/challenger cost: the scored pipeline (real Kafka, Redis, native TF, the known model) with and
 * without a shadow version, interleaved run by run so the noise of a shared machine falls on every side:
 *
 *   A0  champion only, no scores topic
 *   A   champion only, scores topic on (one score record per window)
 *   B   champion + shadow (a second model of the same size), scores topic on (two records per window)
 *
 * The shadow's own cost per window is the work it adds by itself: this process's CPU time per window
 * (user + system, TensorFlow's threads included) of B minus that of A: featurising with the shadow's scaler
 * and vocabulary, its forward pass, its score record. The champion's throughput must not drop by more than
 * that. On a shared machine this process gets only a share of a core, so wall time per window is CPU time per
 * window times a factor (wall/CPU of the champion-only runs); the shadow's own cost in wall time is its CPU
 * cost times that factor, and t(B) − t(A) should not exceed it, up to noise (more would mean the shadow stalls
 * the champion beyond its own work). The champion's model time per window (pdm_score_duration_seconds; the
 * shadow's model has the same shape) is printed for scale.
 *
 *   npm run bench -- --only=shadow [--quick]   or   node --import tsx bench/shadow.ts [reps] [hours per machine]
 */
import { randomUUID } from 'node:crypto';
import { createTopics } from '../src/kafka/topics';
import { createMetrics } from '../src/metrics';
import { createRedis } from '../src/redis/client';
import { ModelRegistry } from '../src/registry';
import { registerKnownModel } from '../test/known-model';
import { dropTestResources } from '../test/helpers';
import { benchConfig, produceHistory, workerRate } from './pipeline';
import { fmt, median, table } from './stats';

const MACHINES = 200;
type Side = 'A0' | 'A' | 'B';

async function run(
  side: Side,
  hours: number,
): Promise<{ rate: number; modelUsPerWindow: number; cpuUsPerWindow: number; windows: number }> {
  const config = benchConfig(
    side === 'A0' ? {} : { PDM_TOPIC_SCORES: `b${randomUUID().slice(0, 8)}.scores` },
  );
  try {
    await createTopics(config, { partitions: 4, replication: 1 });
    const redis = createRedis(config);
    await registerKnownModel(redis, config);
    if (side === 'B') {
      const challenger = await registerKnownModel(redis, config, { promote: false, threshold: 0.4 });
      await new ModelRegistry(redis, config.redis.prefix).setShadow(challenger.version, config.model);
    }
    redis.disconnect();
    await produceHistory(config, MACHINES, hours);
    const windows = MACHINES * (hours - config.model.window + 1);
    const metrics = createMetrics(undefined, false);
    const cpu = process.cpuUsage();
    const { rate } = await workerRate(config, windows, 'scores', metrics);
    const used = process.cpuUsage(cpu);
    const duration = (await metrics.scoreDuration.get()).values.find((v) => v.metricName?.endsWith('_sum'));
    // The shadow scored the same windows (else the comparison is void); its last batch may still be in flight.
    const shadowed = (await metrics.shadowScores.get()).values.reduce((n, v) => n + v.value, 0);
    if (side === 'B' && shadowed < windows * 0.9)
      throw new Error(`the shadow scored ${shadowed} of ${windows} windows`);
    return {
      rate,
      modelUsPerWindow: ((duration?.value ?? NaN) / windows) * 1e6,
      cpuUsPerWindow: (used.user + used.system) / windows,
      windows,
    };
  } finally {
    await dropTestResources(config);
  }
}

export async function benchShadow(
  quick: boolean,
  repsArg?: number,
  hoursArg?: number,
): Promise<Record<string, unknown>> {
  const reps = repsArg ?? (quick ? 1 : 3);
  const hours = hoursArg ?? (quick ? 40 : 100);
  const rates: Record<Side, number[]> = { A0: [], A: [], B: [] };
  const modelUs: number[] = [];
  const cpuUs: Record<Side, number[]> = { A0: [], A: [], B: [] };
  let windowsPerRun = 0;
  const order: Side[][] = [
    ['A0', 'A', 'B'],
    ['B', 'A', 'A0'],
  ];
  for (let r = 0; r < reps; r++) {
    for (const side of order[r % 2]!) {
      const res = await run(side, hours);
      rates[side].push(res.rate);
      cpuUs[side].push(res.cpuUsPerWindow);
      windowsPerRun = res.windows;
      if (side !== 'B') modelUs.push(res.modelUsPerWindow);
    }
  }
  const us = (rate: number) => 1e6 / rate;
  const [a0, a, b] = [median(rates.A0), median(rates.A), median(rates.B)];
  const forward = median(modelUs);
  const cpu = { A0: median(cpuUs.A0), A: median(cpuUs.A), B: median(cpuUs.B) };
  const ownCost = cpu.B - cpu.A;
  const added = us(b) - us(a);
  const wallPerCpu = us(a) / cpu.A;
  const ownCostWall = ownCost * wallPerCpu;
  const out = {
    machines: MACHINES,
    windowsPerRun,
    championOnlyNoScoresPerSec: a0,
    championOnlyPerSec: a,
    withShadowPerSec: b,
    championDrop: 1 - b / a,
    usPerWindow: { championOnly: us(a), withShadow: us(b), addedByShadow: added },
    cpuUsPerWindow: cpu,
    shadowOwnCostCpuUs: ownCost,
    wallPerCpu,
    shadowOwnCostWallUs: ownCostWall,
    championModelUsPerWindow: forward,
    addedOverOwnCost: added / ownCostWall,
    runs: rates,
    cpuRuns: cpuUs,
  };
  console.log(
    table(
      `Shadow scoring cost (real Kafka + Redis, ${MACHINES} machines, 4 partitions; medians of ${reps}, interleaved)`,
      ['figure', 'value'],
      [
        ['champion only, no scores topic (windows/s)', a0],
        ['champion only, scores topic (windows/s)', a],
        ['champion + shadow, scores topic (champion windows/s)', b],
        ['champion throughput drop with a shadow', `${(out.championDrop * 100).toFixed(1)}%`],
        ['wall µs per window: champion only / with shadow', `${fmt(us(a))} / ${fmt(us(b))}`],
        ['CPU µs per window: champion only / with shadow', `${fmt(cpu.A)} / ${fmt(cpu.B)}`],
        ['wall µs per window added by the shadow', added],
        ["shadow's own cost: CPU µs per window it adds", ownCost],
        ['  of which its model (champion model µs/window, same shape)', forward],
        ['wall / CPU of the champion-only runs (share of the machine)', wallPerCpu],
        ["shadow's own cost in wall µs (CPU µs × wall/CPU)", ownCostWall],
        ['added wall / own cost (≤ 1 expected, up to noise)', out.addedOverOwnCost],
      ],
    ),
  );
  return out;
}

if (require.main === module) {
  const reps = Number(process.argv[2] ?? 3);
  const hours = process.argv[3] === undefined ? undefined : Number(process.argv[3]);
  benchShadow(false, reps, hours).then(
    (r) => {
      console.log(`\nBENCH ${JSON.stringify({ at: new Date().toISOString(), shadow: r })}`);
      process.exit(0);
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
