/**
 * Binary-classification metrics for model selection and the holdout report. Pure functions. Each takes
 * optional importance weights (a window of weight w counts as w windows: a subsample evaluated as the
 * history it was drawn from); without them every window counts once.
 */

export type Weights = ArrayLike<number> | undefined;
const weightAt = (weights: Weights, i: number) => (weights ? weights[i]! : 1);

export function rocAuc(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  weights?: Weights,
): number | null {
  const idx = Array.from({ length: labels.length }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let pos = 0;
  let neg = 0;
  let pairs = 0;
  // Weighted Mann–Whitney U: each positive beats the negative weight below it, ties count half.
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && scores[idx[j + 1]!] === scores[idx[i]!]) j++;
    let [tiePos, tieNeg] = [0, 0];
    for (let k = i; k <= j; k++) {
      if (labels[idx[k]!] === 1) tiePos += weightAt(weights, idx[k]!);
      else tieNeg += weightAt(weights, idx[k]!);
    }
    pairs += tiePos * (neg + tieNeg / 2);
    pos += tiePos;
    neg += tieNeg;
    i = j + 1;
  }
  if (pos === 0 || neg === 0) return null;
  return pairs / (pos * neg);
}

/** Average precision (area under the precision–recall curve, step-wise as scikit-learn computes it). */
export function prAuc(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  weights?: Weights,
): number | null {
  const idx = Array.from({ length: labels.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  let positives = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] === 1) positives += weightAt(weights, i);
  if (positives === 0) return null;
  let tp = 0;
  let fp = 0;
  let ap = 0;
  let prevRecall = 0;
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && scores[idx[j + 1]!] === scores[idx[i]!]) j++;
    for (let k = i; k <= j; k++) {
      if (labels[idx[k]!] === 1) tp += weightAt(weights, idx[k]!);
      else fp += weightAt(weights, idx[k]!);
    }
    const recall = tp / positives;
    ap += (recall - prevRecall) * (tp / (tp + fp));
    prevRecall = recall;
    i = j + 1;
  }
  return ap;
}

export interface AtThreshold {
  readonly threshold: number;
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
}

export function atThreshold(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  threshold: number,
  weights?: Weights,
): AtThreshold {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < labels.length; i++) {
    const predicted = scores[i]! >= threshold;
    const w = weightAt(weights, i);
    if (predicted && labels[i] === 1) tp += w;
    else if (predicted) fp += w;
    else if (labels[i] === 1) fn += w;
  }
  const precision = tp + fp === 0 ? 0 : tp / (tp + fp);
  const recall = tp + fn === 0 ? 0 : tp / (tp + fn);
  return {
    threshold,
    precision,
    recall,
    f1: precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall),
  };
}

export interface LeadTimes {
  /** Failures whose horizon before them lies in the evaluated windows. */
  readonly failures: number;
  /** Of those, how many had at least one window at or above the threshold within the horizon before them. */
  readonly detected: number;
  /** Median time from the first such window to the failure, in hours (null when none was detected). */
  readonly medianHours: number | null;
}

/**
 * Warning time per failure: for each failure, the earliest window of that machine ending in
 * [failure − horizon, failure) that scores at or above the threshold. Windows must be those scored.
 */
export function leadTimes(
  windows: readonly { machineId: string; endTs: number }[],
  scores: ArrayLike<number>,
  failures: readonly { machineId: string; ts: number }[],
  threshold: number,
  horizonMs: number,
): LeadTimes {
  const byMachine = new Map<string, { endTs: number; score: number }[]>();
  windows.forEach((w, i) => {
    const list = byMachine.get(w.machineId) ?? [];
    list.push({ endTs: w.endTs, score: scores[i]! });
    byMachine.set(w.machineId, list);
  });
  const leads: number[] = [];
  let counted = 0;
  for (const f of failures) {
    const inHorizon = (byMachine.get(f.machineId) ?? []).filter(
      (w) => w.endTs < f.ts && w.endTs >= f.ts - horizonMs,
    );
    if (inHorizon.length === 0) continue;
    counted++;
    const first = inHorizon
      .filter((w) => w.score >= threshold)
      .reduce<number | undefined>((m, w) => (m === undefined || w.endTs < m ? w.endTs : m), undefined);
    if (first !== undefined) leads.push((f.ts - first) / 3_600_000);
  }
  leads.sort((a, b) => a - b);
  const mid = leads.length >> 1;
  const medianHours =
    leads.length === 0 ? null : leads.length % 2 ? leads[mid]! : (leads[mid - 1]! + leads[mid]!) / 2;
  return { failures: counted, detected: leads.length, medianHours };
}
