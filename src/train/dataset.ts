import type { Failure, LogEntry, Reading } from '../ingest';
import type { TimedValues } from '../state';
import { textToWordSequence } from '../tokenize';
import type { WindowContext } from '../features';

/** A raw labelled window: featurised later with whichever model's scaler and vocabulary is being evaluated. */
export interface RawWindow {
  readonly machineId: string;
  /** Event time of the window's last reading (r in docs/semantics.md "Labels"). */
  readonly endTs: number;
  readonly readings: readonly TimedValues[];
  readonly words: readonly string[];
  /**
   * The extra channels' inputs (PDM_EXTRA_FEATURES): the machine's first reading in the data and its newest
   * log at or before endTs, whatever its age (the worker keeps fewer logs; the log-age cap hides the difference).
   */
  readonly context?: WindowContext;
  readonly label: 0 | 1;
  /**
   * Importance weight (absent = 1): how many windows of the full history this one stands for, where a
   * sample kept only some (the sample store's reservoir, the training-set bound). Losses and validation
   * figures weigh each window by it, so a sample trains and evaluates as the history it was drawn from.
   */
  readonly weight?: number;
}

export const weightOf = (w: Pick<RawWindow, 'weight'>) => w.weight ?? 1;

/** The windows' importance weights, or undefined when every one weighs 1 (figures then count windows). */
export function weightsOf(ws: readonly Pick<RawWindow, 'weight'>[]): Float32Array | undefined {
  return ws.some((w) => weightOf(w) !== 1) ? Float32Array.from(ws, weightOf) : undefined;
}

export interface DatasetSummary {
  machines: number;
  readings: number;
  logs: number;
  failures: number;
  windows: { positive: number; negative: number; censored: number };
  failuresIgnored: {
    unknownMachine: number;
    noPrecedingReadings: number;
    beforeFirstWindow: number;
    duplicate: number;
  };
  duplicateReadings: number;
}

export interface LabelSpec {
  readonly window: number;
  readonly horizonMs: number;
  readonly logLookbackMs: number;
}

function groupBy<T extends { machineId: string }>(items: readonly T[]): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const list = out.get(item.machineId);
    if (list) list.push(item);
    else out.set(item.machineId, [item]);
  }
  return out;
}

/**
 * Builds labelled windows exactly as docs/semantics.md "Labels" defines: a window ending at reading time r is
 * positive iff a failure f has r < f <= r + horizon; negative iff the machine's stream is known for at
 * least the horizon after r with no failure in that span; otherwise censored — never a negative, because
 * "no failure seen yet" at the end of the data is not "no failure".
 */
export function buildWindows(
  readings: readonly Reading[],
  logs: readonly LogEntry[],
  failures: readonly Failure[],
  spec: LabelSpec,
): { windows: RawWindow[]; summary: DatasetSummary } {
  const summary: DatasetSummary = {
    machines: 0,
    readings: readings.length,
    logs: logs.length,
    failures: failures.length,
    windows: { positive: 0, negative: 0, censored: 0 },
    failuresIgnored: { unknownMachine: 0, noPrecedingReadings: 0, beforeFirstWindow: 0, duplicate: 0 },
    duplicateReadings: 0,
  };
  const byMachine = groupBy(readings);
  const logsBy = groupBy(logs);
  const failuresBy = groupBy(failures);
  for (const id of failuresBy.keys())
    if (!byMachine.has(id)) summary.failuresIgnored.unknownMachine += failuresBy.get(id)!.length;
  summary.machines = byMachine.size;
  const windows: RawWindow[] = [];
  for (const [machineId, list] of byMachine) {
    const sorted = [...list].sort((a, b) => a.ts - b.ts);
    const series: TimedValues[] = [];
    for (const r of sorted) {
      if (series.length && series[series.length - 1]!.ts === r.ts) summary.duplicateReadings++;
      else series.push({ ts: r.ts, values: r.values });
    }
    const failureTs = [...new Set((failuresBy.get(machineId) ?? []).map((f) => f.ts))].sort((a, b) => a - b);
    summary.failuresIgnored.duplicate += (failuresBy.get(machineId)?.length ?? 0) - failureTs.length;
    const firstTs = series[0]!.ts;
    const firstWindowTs = series[spec.window - 1]?.ts ?? Infinity;
    for (const f of failureTs) {
      if (f <= firstTs) summary.failuresIgnored.noPrecedingReadings++;
      else if (f <= firstWindowTs) summary.failuresIgnored.beforeFirstWindow++;
    }
    const machineLogs = (logsBy.get(machineId) ?? [])
      .map((l) => ({ ts: l.ts, words: textToWordSequence(l.text) }))
      .sort((a, b) => a.ts - b.ts);
    const lastTs = series[series.length - 1]!.ts;
    let fi = 0; // first failure with f > r
    let lo = 0; // first log with ts > r - lookback
    let hi = 0; // first log with ts > r
    for (let i = spec.window - 1; i < series.length; i++) {
      const r = series[i]!.ts;
      while (fi < failureTs.length && failureTs[fi]! <= r) fi++;
      const next = failureTs[fi];
      let label: 0 | 1 | undefined;
      if (next !== undefined && next <= r + spec.horizonMs) label = 1;
      else if (lastTs >= r + spec.horizonMs) label = 0;
      if (label === undefined) {
        summary.windows.censored++;
        continue;
      }
      summary.windows[label === 1 ? 'positive' : 'negative']++;
      while (hi < machineLogs.length && machineLogs[hi]!.ts <= r) hi++;
      while (lo < hi && machineLogs[lo]!.ts <= r - spec.logLookbackMs) lo++;
      const words = machineLogs.slice(lo, hi).flatMap((l) => l.words);
      const context = { firstTs, lastLogTs: machineLogs[hi - 1]?.ts };
      const readingsInWindow = series.slice(i - spec.window + 1, i + 1);
      windows.push({ machineId, endTs: r, readings: readingsInWindow, words, context, label });
    }
  }
  windows.sort((a, b) => a.endTs - b.endTs || (a.machineId < b.machineId ? -1 : 1));
  return { windows, summary };
}

export interface Split {
  readonly train: RawWindow[];
  readonly validation: RawWindow[];
  readonly holdout: RawWindow[];
  readonly boundaries: { validationFrom: number; holdoutFrom: number };
}

/**
 * Splits by time: train, then validation, then holdout, by window end time. A window whose label looks
 * past the next split's start (r + horizon >= boundary) is dropped, so no label uses the future split.
 */
export function splitByTime(
  windows: readonly RawWindow[],
  horizonMs: number,
  fractions = { validation: 0.15, holdout: 0.15 },
): Split {
  const n = windows.length;
  const validationFrom =
    windows[Math.floor(n * (1 - fractions.validation - fractions.holdout))]?.endTs ?? Infinity;
  const holdoutFrom = windows[Math.floor(n * (1 - fractions.holdout))]?.endTs ?? Infinity;
  return {
    train: windows.filter((w) => w.endTs < validationFrom && w.endTs + horizonMs < validationFrom),
    validation: windows.filter(
      (w) => w.endTs >= validationFrom && w.endTs < holdoutFrom && w.endTs + horizonMs < holdoutFrom,
    ),
    holdout: windows.filter((w) => w.endTs >= holdoutFrom),
    boundaries: { validationFrom, holdoutFrom },
  };
}
