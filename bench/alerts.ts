import { randomUUID } from 'node:crypto';
import type { Tensor } from '@tensorflow/tfjs-node';
import { applyScore, isFlap } from '../src/alerts';
import type { AlertPolicy } from '../src/alerts';
import { loadConfig } from '../src/config';
import type { Failure, LogEntry, Reading } from '../src/ingest';
import { createLogger } from '../src/log';
import { disposeModel, tf } from '../src/model/tf';
import { createRedis } from '../src/redis/client';
import { ModelRegistry } from '../src/registry';
import { featurize } from '../src/score';
import { createFleet } from '../src/simulate';
import { newAlertState } from '../src/state';
import { textToWordSequence } from '../src/tokenize';
import { trainOnce } from '../src/train';
import { table } from './stats';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface Series {
  readonly machineId: string;
  readonly scores: { ts: number; score: number }[];
  readonly failures: number[];
}

/** Simulated fleet data as the topics would hold it, for `days` of hourly readings from `start`. */
function simulateDays(
  machines: number,
  seed: number,
  start: number,
  days: number,
): { readings: Reading[]; logs: LogEntry[]; failures: Failure[] } {
  const fleet = createFleet({ machines, seed, start });
  const out = { readings: [] as Reading[], logs: [] as LogEntry[], failures: [] as Failure[] };
  while (fleet.nextTs < start + days * DAY) {
    const tick = fleet.tick();
    for (const r of tick.readings)
      out.readings.push({ machineId: r.machineId, ts: Date.parse(r.ts), values: r.values });
    for (const l of tick.logs) out.logs.push({ machineId: l.machineId, ts: Date.parse(l.ts), text: l.text });
    for (const f of tick.failures)
      out.failures.push({ machineId: f.machineId, ts: Date.parse(f.ts), component: f.component });
  }
  return out;
}

export interface RuleFigures {
  readonly rule: string;
  readonly raisesPerMachineDay: number;
  readonly flapsPerMachineDay: number;
  readonly falseRaisesPerMachineDay: number;
  readonly recall: number;
  readonly medianLeadHours: number;
}

/**
 * Replays every machine's score series through one alert rule: flaps (a raise within `flapWindowMs` of the
 * previous clear), false raises (no failure within twice the horizon after the raise), recall (a failure
 * with the alert raised at some scored reading of the horizon before it) and the lead time from the raise
 * of that alert to the failure.
 */
export function evaluateRule(
  series: readonly Series[],
  policy: AlertPolicy,
  horizonMs: number,
  flapWindowMs: number,
): RuleFigures {
  let raises = 0;
  let flaps = 0;
  let falseRaises = 0;
  let machineMs = 0;
  let failures = 0;
  let detected = 0;
  const leads: number[] = [];
  for (const s of series) {
    const first = s.scores[0];
    const last = s.scores.at(-1);
    if (!first || !last) continue;
    machineMs += last.ts - first.ts;
    const alert = newAlertState();
    // Per scored reading: since when the alert in force was raised (undefined while clear).
    const raisedSince: (number | undefined)[] = [];
    for (const { ts, score } of s.scores) {
      const clearedBefore = alert.lastClearedTs;
      const t = applyScore(alert, score, ts, policy);
      if (t === 'raised') {
        raises++;
        if (isFlap(clearedBefore, ts, flapWindowMs)) flaps++;
        if (!s.failures.some((f) => f > ts && f <= ts + 2 * horizonMs)) falseRaises++;
      }
      raisedSince.push(alert.state === 'raised' ? alert.lastRaisedTs : undefined);
    }
    for (const f of s.failures) {
      if (f - horizonMs < first.ts) continue; // the span before it was not scored
      failures++;
      const i = s.scores.findIndex(
        (p, k) => p.ts > f - horizonMs && p.ts < f && raisedSince[k] !== undefined,
      );
      if (i >= 0) {
        detected++;
        // Lead: from the raise in force to the failure, counted back at most twice the horizon (an alert
        // raised days earlier and never cleared is not a prediction of this failure).
        leads.push((f - Math.max(raisedSince[i]!, f - 2 * horizonMs)) / HOUR);
      }
    }
  }
  leads.sort((a, b) => a - b);
  const machineDays = machineMs / DAY;
  return {
    rule: `k=${policy.raiseK} n=${policy.windowN} j=${policy.clearJ} cooldown ${policy.cooldownMs / HOUR}h`,
    raisesPerMachineDay: raises / machineDays,
    flapsPerMachineDay: flaps / machineDays,
    falseRaisesPerMachineDay: falseRaises / machineDays,
    recall: failures ? detected / failures : NaN,
    medianLeadHours: leads.length ? leads[Math.floor(leads.length / 2)]! : NaN,
  };
}

/** Scores every full window of the evaluation period with the trained model, per machine in event order. */
async function scoreSeries(
  registry: ModelRegistry,
  version: string,
  data: ReturnType<typeof simulateDays>,
  window: number,
  lookbackMs: number,
): Promise<Series[]> {
  const loaded = await registry.load(version);
  const spec = { ...loaded.meta, tokenizer: loaded.tokenizer };
  const out: Series[] = [];
  try {
    const ids = [...new Set(data.readings.map((r) => r.machineId))];
    for (const id of ids) {
      const readings = data.readings.filter((r) => r.machineId === id);
      const logs = data.logs
        .filter((l) => l.machineId === id)
        .map((l) => ({ ts: l.ts, words: textToWordSequence(l.text) }));
      const feats = readings.slice(window - 1).map((r, i) => {
        const words = logs.filter((l) => l.ts > r.ts - lookbackMs && l.ts <= r.ts).flatMap((l) => l.words);
        return { ts: r.ts, f: featurize(readings.slice(i, i + window), words, spec) };
      });
      const numeric = tf.tensor3d(concat(feats.map((x) => x.f.numeric)), [
        feats.length,
        window,
        spec.sensors.length,
      ]);
      const tokens = tf.tensor2d(Float32Array.from(concat(feats.map((x) => Float32Array.from(x.f.tokens)))), [
        feats.length,
        spec.textMaxLen,
      ]);
      const scores = tf.tidy(
        () =>
          (loaded.model.predict([numeric, tokens], { batchSize: 256 }) as Tensor).dataSync() as Float32Array,
      );
      tf.dispose([numeric, tokens]);
      out.push({
        machineId: id,
        scores: feats.map((x, i) => ({ ts: x.ts, score: scores[i]! })),
        failures: data.failures.filter((f) => f.machineId === id).map((f) => f.ts),
      });
    }
  } finally {
    disposeModel(loaded.model);
  }
  return out;
}

function concat(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The rules compared, [k, n, j, cooldown hours]: the old single-score rule first, then k-of-n variants (j ≤ k ≤ n). */
const RULES: readonly [number, number, number, number][] = [
  [1, 1, 1, 1],
  [1, 1, 1, 6],
  [1, 3, 1, 1],
  [2, 2, 1, 1],
  [2, 3, 1, 1],
  [2, 3, 1, 6],
  [2, 3, 2, 1],
  [2, 4, 1, 1],
  [3, 3, 1, 1],
  [3, 4, 2, 1],
  [3, 5, 1, 1],
  [4, 6, 2, 1],
];

/**
 * The measurement behind the alert defaults: a simulated fleet of 20 machines (the demo's), 30 days to
 * train the first model (as `pdm train --once` would on the demo's backfill), 30 following days scored
 * window by window, each alert rule replayed over the same scores. `--quick` trains 2 epochs.
 */
export async function benchAlerts(quick: boolean): Promise<Record<string, unknown>> {
  const tag = `bench${randomUUID().slice(0, 8)}`;
  const config = loadConfig(process.env, {
    PDM_REDIS_PREFIX: `${tag}:`,
    PDM_TRAIN_EPOCHS: quick ? '2' : '4',
    PDM_LOG_LEVEL: 'warn',
  });
  const start = Date.parse('2026-01-01T00:00:00Z');
  const all = simulateDays(20, 7, start, 60);
  const split = start + 30 * DAY;
  const before = <T extends { ts: number }>(xs: T[]) => xs.filter((x) => x.ts < split);
  const after = <T extends { ts: number }>(xs: T[]) => xs.filter((x) => x.ts >= split - 2 * DAY);
  const redis = createRedis(config);
  try {
    const summary = await trainOnce(config, createLogger('warn', { role: 'bench' }), {
      snapshot: {
        readings: before(all.readings),
        logs: before(all.logs),
        failures: before(all.failures),
        invalid: {},
      },
    });
    const evalData = {
      readings: after(all.readings),
      logs: after(all.logs),
      failures: all.failures.filter((f) => f.ts >= split),
    };
    const series = await scoreSeries(
      new ModelRegistry(redis, config.redis.prefix),
      summary.version,
      evalData,
      config.model.window,
      config.logLookbackMs,
    );
    const rows: RuleFigures[] = [];
    for (const [raiseK, windowN, clearJ, cooldownHours] of RULES) {
      const policy = {
        threshold: summary.threshold,
        hysteresis: config.alerts.hysteresis,
        cooldownMs: cooldownHours * HOUR,
        raiseK,
        windowN,
        clearJ,
      };
      rows.push(evaluateRule(series, policy, config.horizonMs, 6 * HOUR));
    }
    console.log(
      table(
        `Alert rules on 30 simulated days × 20 machines (model ${summary.version}, threshold ${summary.threshold.toFixed(3)}, holdout PR-AUC ${summary.metrics.pr_auc?.toFixed(3)}; flap = raise < 6 h after a clear)`,
        [
          'rule',
          'raises/machine-day',
          'flaps/machine-day',
          'false raises/machine-day',
          'recall',
          'median lead h',
        ],
        rows.map((r) => [
          r.rule,
          r.raisesPerMachineDay,
          r.flapsPerMachineDay,
          r.falseRaisesPerMachineDay,
          r.recall,
          r.medianLeadHours,
        ]),
      ),
    );
    return {
      threshold: summary.threshold,
      metrics: summary.metrics,
      failures: evalData.failures.length,
      rows,
    };
  } finally {
    const keys = await redis.keys(`${config.redis.prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  }
}
