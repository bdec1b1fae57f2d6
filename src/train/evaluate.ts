/** Binary-classification metrics for model selection and the holdout report. Pure functions. */

export function rocAuc(labels: ArrayLike<number>, scores: ArrayLike<number>): number | null {
  const idx = Array.from({ length: labels.length }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let pos = 0;
  let neg = 0;
  let rankSum = 0;
  // Average ranks for ties (Mann–Whitney U).
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && scores[idx[j + 1]!] === scores[idx[i]!]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) if (labels[idx[k]!] === 1) rankSum += rank;
    i = j + 1;
  }
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] === 1) pos++;
    else neg++;
  }
  if (pos === 0 || neg === 0) return null;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** Average precision (area under the precision–recall curve, step-wise as scikit-learn computes it). */
export function prAuc(labels: ArrayLike<number>, scores: ArrayLike<number>): number | null {
  const idx = Array.from({ length: labels.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  let positives = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] === 1) positives++;
  if (positives === 0) return null;
  let tp = 0;
  let fp = 0;
  let ap = 0;
  let prevRecall = 0;
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && scores[idx[j + 1]!] === scores[idx[i]!]) j++;
    for (let k = i; k <= j; k++) {
      if (labels[idx[k]!] === 1) tp++;
      else fp++;
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

export function atThreshold(labels: ArrayLike<number>, scores: ArrayLike<number>, threshold: number): AtThreshold {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < labels.length; i++) {
    const predicted = scores[i]! >= threshold;
    if (predicted && labels[i] === 1) tp++;
    else if (predicted) fp++;
    else if (labels[i] === 1) fn++;
  }
  const precision = tp + fp === 0 ? 0 : tp / (tp + fp);
  const recall = tp + fn === 0 ? 0 : tp / (tp + fn);
  return { threshold, precision, recall, f1: precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall) };
}

/** The threshold with the best F1 on these labels; candidates are midpoints between distinct scores. */
export function bestF1Threshold(labels: ArrayLike<number>, scores: ArrayLike<number>): AtThreshold {
  const distinct = [...new Set(Array.from(scores))].sort((a, b) => a - b);
  let best: AtThreshold = atThreshold(labels, scores, 0.5);
  for (let i = 0; i < distinct.length; i++) {
    const t = i === 0 ? distinct[0]! : (distinct[i - 1]! + distinct[i]!) / 2;
    if (t <= 0 || t >= 1) continue;
    const m = atThreshold(labels, scores, t);
    if (m.f1 > best.f1) best = m;
  }
  return best;
}
