import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import type { DriftSnapshot } from '../drift';
import type { LedgerEvent } from './ledger';
import type { LiveFigures } from './tally';

/** Lead-time buckets, seconds: 10 min … 3 days (the default horizon is 24 h). */
export const LEAD_TIME_BUCKETS = [
  600,
  1800,
  3600,
  2 * 3600,
  4 * 3600,
  8 * 3600,
  12 * 3600,
  24 * 3600,
  48 * 3600,
  72 * 3600,
];

/**
 * The evaluator's metrics (docs/metrics.md "Live evaluation" and "Drift"), on the registry passed in. The
 * counters and the lead-time histogram are restored from Redis at start, so they continue across restarts
 * instead of starting again from zero.
 */
export function createEvaluatorMetrics(registry: Registry) {
  const r = [registry];
  return {
    recall: new Gauge({
      name: 'pdm_live_recall',
      help: 'Failures detected / failures decided (detected + missed), per model version',
      labelNames: ['version'],
      registers: r,
    }),
    precision: new Gauge({
      name: 'pdm_live_precision',
      help: 'Raised alerts followed by a failure within the horizon / alerts decided, per model version',
      labelNames: ['version'],
      registers: r,
    }),
    falseAlarmsPerMachineDay: new Gauge({
      name: 'pdm_live_false_alarms_per_machine_day',
      help: 'False alarms per machine-day observed, per model version',
      labelNames: ['version'],
      registers: r,
    }),
    holdoutRecall: new Gauge({
      name: 'pdm_live_holdout_recall',
      help: "Recall at the threshold on the version's holdout split (the offline figure live recall is compared with)",
      labelNames: ['version'],
      registers: r,
    }),
    falseAlarms: new Counter({
      name: 'pdm_live_false_alarms_total',
      help: 'Raised alerts whose horizon passed (event time) without a failure, per model version',
      labelNames: ['version'],
      registers: r,
    }),
    trueAlarms: new Counter({
      name: 'pdm_live_true_alarms_total',
      help: 'Raised alerts followed by a failure within the horizon, per model version',
      labelNames: ['version'],
      registers: r,
    }),
    failures: new Counter({
      name: 'pdm_live_failures_total',
      help: 'Failures decided, per model version and outcome (detected | missed)',
      labelNames: ['version', 'outcome'],
      registers: r,
    }),
    ignored: new Counter({
      name: 'pdm_live_records_ignored_total',
      help: 'Alerts and failures not evaluated, by topic and reason (invalid, duplicate, too_old, unknown_machine, censored)',
      labelNames: ['topic', 'reason'],
      registers: r,
    }),
    pending: new Gauge({
      name: 'pdm_live_pending',
      help: 'Alerts and failures waiting for their horizon (event time) or the worker',
      labelNames: ['kind'],
      registers: r,
    }),
    leadTime: new Histogram({
      name: 'pdm_alert_lead_time_seconds',
      help: 'Failure ts − first raised ts within the horizon before it, per detecting model version',
      labelNames: ['version'],
      buckets: LEAD_TIME_BUCKETS,
      registers: r,
    }),
    driftPsi: new Gauge({
      name: 'pdm_drift_psi',
      help: "Population stability index of a sensor's live values (sliding event-time window) against the training scaler's normal",
      labelNames: ['sensor'],
      registers: r,
    }),
    driftMeanShift: new Gauge({
      name: 'pdm_drift_mean_shift',
      help: '(live mean − training mean) / training std of a sensor over the drift window',
      labelNames: ['sensor'],
      registers: r,
    }),
    driftSamples: new Gauge({
      name: 'pdm_drift_window_samples',
      help: 'Values of a sensor in the drift window',
      labelNames: ['sensor'],
      registers: r,
    }),
    oovRatio: new Gauge({
      name: 'pdm_vocab_oov_ratio',
      help: "Share of log tokens in the drift window that the serving model's vocabulary does not map",
      registers: r,
    }),
  };
}

export type EvaluatorMetrics = ReturnType<typeof createEvaluatorMetrics>;

/** Counters and the histogram follow the events (restored ones go through here too). */
export function countEvents(m: EvaluatorMetrics, events: readonly LedgerEvent[]): void {
  for (const e of events) {
    if (e.kind === 'ignored') m.ignored.inc({ topic: e.topic, reason: e.reason });
    else if (e.kind === 'false_alarm') m.falseAlarms.inc({ version: e.version });
    else if (e.kind === 'true_alarm') m.trueAlarms.inc({ version: e.version });
    else if (e.kind === 'missed') m.failures.inc({ version: e.version, outcome: 'missed' });
    else if (e.kind === 'detected') {
      m.failures.inc({ version: e.version, outcome: 'detected' });
      m.leadTime.observe({ version: e.version }, e.leadMs / 1000);
    }
  }
}

/** The gauges derived from the counts; a figure with no denominator yet is absent rather than 0. */
export function publishFigures(m: EvaluatorMetrics, all: readonly LiveFigures[]): void {
  for (const f of all) {
    const set = (g: Gauge, value: number | null) =>
      value === null ? g.remove({ version: f.version }) : g.set({ version: f.version }, value);
    set(m.recall, f.recall);
    set(m.precision, f.precision);
    set(m.falseAlarmsPerMachineDay, f.falseAlarmsPerMachineDay);
  }
}

export function publishDrift(m: EvaluatorMetrics, snapshot: DriftSnapshot | undefined): void {
  if (!snapshot) return;
  for (const s of snapshot.sensors) {
    if (s.n === 0) continue;
    m.driftPsi.set({ sensor: s.sensor }, s.psi);
    m.driftMeanShift.set({ sensor: s.sensor }, s.meanShift);
    m.driftSamples.set({ sensor: s.sensor }, s.n);
  }
  if (snapshot.oovRatio !== null) m.oovRatio.set(snapshot.oovRatio);
}
