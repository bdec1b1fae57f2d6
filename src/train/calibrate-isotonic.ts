/**
 * Isotonic calibration (PDM_CALIBRATION=isotonic): pool-adjacent-violators on the validation split, served as
 * a piecewise-linear function through the pooled blocks' centroids. Unlike Platt's two-parameter sigmoid it
 * assumes no shape, so it can follow a raw score whose miscalibration is not a sigmoid of its logit; it needs
 * more validation positives to be smooth (each block's rate is an average of its windows).
 *
 * Plain isotonic regression is a step function, which turns distinct scores into ties and so changes ROC-AUC
 * and which windows a threshold separates. Served here instead: linear interpolation between the centroids
 * (mean raw score, mean target) of the pooled blocks, anchored at (0, 0) and (1, 1), with Platt's regularised
 * targets (positives (N₊+1)/(N₊+2), negatives 1/(N₋+2)) so no block sits at exactly 0 or 1. PAV leaves block
 * means strictly increasing and the centroids of contiguous blocks are strictly increasing too, so the map is
 * strictly increasing on [0, 1]: the ranking, ROC-AUC and PR-AUC are those of the raw scores.
 */
export interface IsotonicCalibration {
  readonly method: 'isotonic';
  /** Knots: raw scores, strictly increasing, from 0 to 1. */
  readonly x: number[];
  /** Served score at each knot, strictly increasing. */
  readonly y: number[];
}

/**
 * Fits the knots; undefined for a one-class split (the model then serves raw scores). With importance
 * weights a window of weight w counts as w windows (weighted block rates and centroids).
 */
export function fitIsotonic(
  labels: ArrayLike<number>,
  raw: ArrayLike<number>,
  weights?: ArrayLike<number>,
): IsotonicCalibration | undefined {
  const n = labels.length;
  const wt = (i: number) => (weights ? weights[i]! : 1);
  let [pos, total] = [0, 0];
  for (let i = 0; i < n; i++) {
    if (labels[i] === 1) pos += wt(i);
    total += wt(i);
  }
  if (pos === 0 || pos === total) return undefined;
  const hi = (pos + 1) / (pos + 2);
  const lo = 1 / (total - pos + 2);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => raw[a]! - raw[b]!);
  // Blocks as parallel stacks: weighted sum of raw scores, positives, windows. A block's mean target is
  // lo + (hi − lo) · positives / windows, so blocks compare by their positive rate, exactly in integers when
  // every window weighs 1: two blocks with equal rates are pooled even where their float means would differ.
  // Equal raw scores share a block from the start, so no two blocks hold the same score.
  const sx: number[] = [];
  const positives: number[] = [];
  const count: number[] = [];
  let previous = Number.NaN;
  for (const i of order) {
    const x = raw[i]!;
    const w = wt(i);
    const p = labels[i] === 1 ? w : 0;
    if (x === previous) {
      sx[sx.length - 1]! += w * x;
      positives[positives.length - 1]! += p;
      count[count.length - 1]! += w;
    } else {
      sx.push(w * x);
      positives.push(p);
      count.push(w);
    }
    previous = x;
    // Pool while the block before has a rate at or above this one's (a violation, or a tie that would be flat).
    for (
      let k = sx.length - 1;
      k > 0 && positives[k - 1]! * count[k]! >= positives[k]! * count[k - 1]!;
      k--
    ) {
      sx[k - 1]! += sx.pop()!;
      positives[k - 1]! += positives.pop()!;
      count[k - 1]! += count.pop()!;
    }
  }
  const knotsX = sx.map((s, k) => s / count[k]!);
  const knotsY = positives.map((q, k) => lo + ((hi - lo) * q) / count[k]!);
  if (knotsX[0]! > 0) {
    knotsX.unshift(0);
    knotsY.unshift(0);
  }
  if (knotsX[knotsX.length - 1]! < 1) {
    knotsX.push(1);
    knotsY.push(1);
  }
  return { method: 'isotonic', x: knotsX, y: knotsY };
}

/** The served score: linear between the knots (binary search; raw scores outside [0, 1] clamp to the ends). */
export function applyIsotonic(c: IsotonicCalibration, raw: number): number {
  const { x, y } = c;
  const last = x.length - 1;
  if (!(raw > x[0]!)) return y[0]!;
  if (raw >= x[last]!) return y[last]!;
  let lo = 0;
  let hi = last;
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (x[mid]! <= raw) lo = mid;
    else hi = mid;
  }
  const t = (raw - x[lo]!) / (x[hi]! - x[lo]!);
  return y[lo]! + t * (y[hi]! - y[lo]!);
}
