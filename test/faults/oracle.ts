import assert from 'node:assert/strict';
import { alertId, applyScore, clearLevel } from '../../src/alerts';
import type { AlertPolicy } from '../../src/alerts';
import { newAlertState } from '../../src/state';
import { KNOWN, knownScore } from '../known-model';
import { mulberry32 } from '../../src/random';

/**
 * The oracle of the fault-injection suite (Jepsen style: generate a history whose correct outcome is
 * known offline, run it through the real system under faults, then check what came out).
 *
 * - The generator makes readings with unique (machineId, ts): each machine reads sensor `v` once per step,
 *   in event-time order, values drawn from a palette whose known-model scores sit far from every threshold
 *   (and threshold − hysteresis) the suite uses, so float32 scoring in the worker cannot flip a decision.
 * - `expectedAlerts` replays the contract offline: a machine is scored on each reading once its window is
 *   full, the score is `knownScore(v)`, and `applyScore` (the k-of-n rule of the config) decides the transitions; the alertId comes from
 *   `alertId(...)` with the model version.
 * - `checkAlerts` compares what was consumed from the alerts topic with that set: missing, extra and
 *   duplicates (an alertId seen more than once, which at-least-once delivery allows and a consumer drops).
 */

export interface Reading {
  readonly machineId: string;
  readonly ts: number;
  readonly v: number;
}

export type { AlertPolicy } from '../../src/alerts';

export interface ExpectedAlert {
  readonly alertId: string;
  readonly machineId: string;
  readonly ts: number;
  readonly state: 'raised' | 'cleared';
  readonly modelVersion: string;
}

/** An alert as published by the worker (the fields the checker reads). */
export interface ObservedAlert {
  readonly alertId: string;
  readonly machineId: string;
  readonly ts: string;
  readonly state: 'raised' | 'cleared';
  readonly score: number;
  readonly threshold: number;
  readonly modelVersion: string;
}

export interface CheckResult {
  readonly expected: number;
  /** Alert messages consumed (with duplicates). */
  readonly observed: number;
  /** Distinct alertIds consumed. */
  readonly distinct: number;
  readonly missing: number;
  readonly extra: number;
  /** Messages whose alertId had been seen before. */
  readonly duplicates: number;
  readonly examples: { readonly missing: readonly string[]; readonly extra: readonly string[] };
}

/** Scores of the palette: low (normal), and a spread across the alerting range. */
export const PALETTE_SCORES = [0.02, 0.08, 0.33, 0.47, 0.62, 0.77, 0.9] as const;
/** Thresholds that keep every palette score ≥ 0.02 away from t and from t − 0.1 (the default hysteresis). */
export const SAFE_THRESHOLDS = [0.38, 0.52, 0.67, 0.82, 0.4, 0.5, 0.54, 0.65, 0.69, 0.36, 0.8] as const;

/** The sensor value whose known-model score is `s` (inverse of knownScore). */
export function valueForScore(s: number): number {
  const logit = Math.log(s / (1 - s));
  const h = ((logit - KNOWN.b) * Math.sqrt(1 + KNOWN.eps)) / KNOWN.k;
  if (!(h > 0 && h < Math.tanh(1)))
    throw new RangeError(`score ${s} is outside what the known model can produce`);
  return Math.atanh(Math.atanh(h));
}

export const PALETTE = PALETTE_SCORES.map(valueForScore);

/** Deterministic PRNG (mulberry32), so a failing run can be replayed from its seed. */
export const prng = mulberry32;

export interface FleetSpec {
  readonly machines: number;
  readonly steps: number;
  readonly t0: number;
  readonly stepMs: number;
  readonly seed: number;
  readonly prefix?: string;
}

export const HOUR = 3_600_000;

/** A fleet of `machines` (default 200) with one reading an hour each, `steps` hours from `start`. */
export function hourlyFleet(start: string, steps: number, seed: number, machines = 200): FleetSpec {
  return { machines, steps, t0: Date.parse(start), stepMs: HOUR, seed };
}

export const machineName = (spec: FleetSpec, m: number) =>
  `${spec.prefix ?? 'm'}-${String(m).padStart(4, '0')}`;

/**
 * Readings in streaming order (step by step, every machine once per step): normal operation with episodes
 * of 2–8 steps of degradation, whose values wander across the alerting range.
 */
export function generateReadings(spec: FleetSpec): Reading[] {
  const series: number[][] = [];
  for (let m = 0; m < spec.machines; m++) {
    const rand = prng(spec.seed * 100_003 + m);
    const out: number[] = [];
    let episode = 0;
    for (let s = 0; s < spec.steps; s++) {
      if (episode === 0 && rand() < 0.07) episode = 2 + Math.floor(rand() * 7);
      const pick = episode > 0 ? 2 + Math.floor(rand() * 5) : Math.floor(rand() * 2);
      if (episode > 0) episode--;
      out.push(PALETTE[pick]!);
    }
    series.push(out);
  }
  const readings: Reading[] = [];
  for (let s = 0; s < spec.steps; s++) {
    for (let m = 0; m < spec.machines; m++)
      readings.push({ machineId: machineName(spec, m), ts: spec.t0 + s * spec.stepMs, v: series[m]![s]! });
  }
  return readings;
}

/** The wire form of a reading (key = machineId, as the contract requires). */
export function readingMessage(r: Reading): { key: string; value: string } {
  return {
    key: r.machineId,
    value: JSON.stringify({ machineId: r.machineId, ts: new Date(r.ts).toISOString(), values: { v: r.v } }),
  };
}

export const alertKey = (machineId: string, ts: number, state: string) =>
  `${machineId}|${new Date(ts).toISOString()}|${state}`;

/** Throws when a reading's score is too close to a decision boundary for the given thresholds. */
export function assertSeparated(
  readings: readonly Reading[],
  thresholds: readonly number[],
  hysteresis: number,
  margin = 0.01,
): void {
  const edges = thresholds.flatMap((t) => [t, clearLevel({ threshold: t, hysteresis })]);
  for (const r of readings) {
    const s = knownScore(r.v);
    const edge = edges.find((e) => Math.abs(s - e) < margin);
    if (edge !== undefined)
      throw new Error(
        `oracle: score ${s} of ${r.machineId}@${r.ts} is within ${margin} of decision boundary ${edge}`,
      );
  }
}

/**
 * The alerts the contract promises for `readings` (each machine's readings in event-time order), given
 * which model version (and threshold) scores each window. `versionFor` is constant for a single-model run;
 * the hot-swap test passes the version each score was actually made with (from the scores topic).
 */
export function expectedAlerts(
  readings: readonly Reading[],
  window: number,
  policy: Omit<AlertPolicy, 'threshold'>,
  versionFor: (machineId: string, ts: number) => { version: string; threshold: number } | undefined,
): Map<string, ExpectedAlert> {
  const byMachine = new Map<string, Reading[]>();
  for (const r of readings) {
    const list = byMachine.get(r.machineId) ?? [];
    list.push(r);
    byMachine.set(r.machineId, list);
  }
  const out = new Map<string, ExpectedAlert>();
  for (const [machineId, list] of byMachine) {
    list.sort((a, b) => a.ts - b.ts);
    const alert = newAlertState();
    list.forEach((r, i) => {
      if (i < window - 1) return;
      const model = versionFor(machineId, r.ts);
      if (!model) return;
      // The worker's rule, k-of-n included: each machine's scores vote in event order.
      const transition = applyScore(alert, knownScore(r.v), r.ts, { ...policy, threshold: model.threshold });
      if (!transition) return;
      out.set(alertKey(machineId, r.ts, transition), {
        alertId: alertId(machineId, r.ts, model.version, transition),
        machineId,
        ts: r.ts,
        state: transition,
        modelVersion: model.version,
      });
    });
  }
  return out;
}

/** The checker: distinct observed alertIds against the expected set. */
export function checkAlerts(
  expected: ReadonlyMap<string, ExpectedAlert>,
  observed: readonly ObservedAlert[],
): CheckResult {
  const expectedIds = new Map<string, ExpectedAlert>();
  for (const e of expected.values()) expectedIds.set(e.alertId, e);
  const seen = new Map<string, ObservedAlert>();
  let duplicates = 0;
  for (const a of observed) {
    if (seen.has(a.alertId)) duplicates++;
    else seen.set(a.alertId, a);
  }
  const extra: string[] = [];
  for (const [id, a] of seen) {
    const e = expectedIds.get(id);
    // The id must be expected, and name the same machine, reading and transition as the oracle's.
    if (!e || alertKey(e.machineId, e.ts, e.state) !== alertKey(a.machineId, Date.parse(a.ts), a.state))
      extra.push(`${a.machineId}|${a.ts}|${a.state}|${a.modelVersion}`);
  }
  const missing: string[] = [];
  for (const [key, e] of expected) if (!seen.has(e.alertId)) missing.push(`${key}|${e.modelVersion}`);
  return {
    expected: expected.size,
    observed: observed.length,
    distinct: seen.size,
    missing: missing.length,
    extra: extra.length,
    duplicates,
    examples: { missing: missing.sort().slice(0, 10), extra: extra.sort().slice(0, 10) },
  };
}

/** The Jepsen-style verdict every fault test ends with: no expected alert missing, none extra. */
export function assertNoLostOrExtraAlerts(result: CheckResult): void {
  assert.equal(result.missing, 0, `missing alerts, e.g. ${result.examples.missing.join(', ')}`);
  assert.equal(result.extra, 0, `extra alerts, e.g. ${result.examples.extra.join(', ')}`);
}
