import { weightOf } from './dataset';
import type { RawWindow } from './dataset';

/** How the training split was bounded (reported in the training summary). */
export interface TrainingBound {
  /** Windows of the training split before any bound. */
  readonly available: number;
  /** Windows trained on. */
  readonly used: number;
  /** Negatives left out (positives never are). */
  readonly negativesDropped: number;
  /** Bytes of the training tensors per window (float32 numeric window, tokens, label). */
  readonly bytesPerWindow: number;
  readonly bytes: number;
  readonly maxBytes: number;
  readonly maxWindows: number | null;
}

/**
 * Every window of the training split, unless its tensors would exceed `maxBytes` (or an explicit
 * `maxWindows` is set): then every positive stays and negatives are subsampled evenly in time within each
 * machine, each machine keeping the same fraction — a stratified sample, so no machine and no period is
 * dropped wholesale — and each kept negative's weight is multiplied by 1 / that fraction, so the loss still
 * sees the machine's negatives in full measure. Deterministic: the same windows give the same subset.
 */
export function boundTrainingSet(
  windows: readonly RawWindow[],
  opts: { maxBytes: number; maxWindows: number | undefined; bytesPerWindow: number },
): { windows: RawWindow[]; bound: TrainingBound } {
  const cap = Math.min(Math.floor(opts.maxBytes / opts.bytesPerWindow), opts.maxWindows ?? Infinity);
  const positives = windows.filter((w) => w.label === 1);
  const negatives = windows.filter((w) => w.label === 0);
  const quota = Math.max(0, Math.min(negatives.length, cap - positives.length));
  let kept: RawWindow[] = [...windows];
  if (quota < negatives.length) {
    const byMachine = new Map<string, RawWindow[]>();
    for (const w of negatives) {
      const list = byMachine.get(w.machineId);
      if (list) list.push(w);
      else byMachine.set(w.machineId, [w]);
    }
    // Largest-remainder shares of the quota, so the machines' shares add up to it exactly.
    const machines = [...byMachine.entries()].map(([id, list]) => ({
      id,
      list,
      exact: (list.length * quota) / negatives.length,
    }));
    const shares = new Map(machines.map((m) => [m.id, Math.floor(m.exact)]));
    let left = quota - [...shares.values()].reduce((a, b) => a + b, 0);
    for (const m of [...machines].sort(
      (a, b) => b.exact - Math.floor(b.exact) - (a.exact - Math.floor(a.exact)) || (a.id < b.id ? -1 : 1),
    )) {
      if (left-- <= 0) break;
      shares.set(m.id, shares.get(m.id)! + 1);
    }
    const sampled: RawWindow[] = [];
    for (const m of machines) {
      const sorted = [...m.list].sort((a, b) => a.endTs - b.endTs);
      const k = shares.get(m.id)!;
      // Each kept negative stands for the machine's negatives it was picked among (its importance weight).
      const per = sorted.length / k;
      for (let j = 0; j < k; j++) {
        const w = sorted[Math.floor((j + 0.5) * per)]!;
        sampled.push({ ...w, weight: weightOf(w) * per });
      }
    }
    kept = [...positives, ...sampled].sort(
      (a, b) => a.endTs - b.endTs || (a.machineId < b.machineId ? -1 : 1),
    );
  }
  return {
    windows: kept,
    bound: {
      available: windows.length,
      used: kept.length,
      negativesDropped: windows.length - kept.length,
      bytesPerWindow: opts.bytesPerWindow,
      bytes: kept.length * opts.bytesPerWindow,
      maxBytes: opts.maxBytes,
      maxWindows: opts.maxWindows ?? null,
    },
  };
}
