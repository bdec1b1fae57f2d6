/**
 * Score calibration: maps the network's raw sigmoid output to a probability of failure within the
 * horizon. The network is trained with balanced class weights, so its raw output overstates the risk of
 * a rare failure by design; a calibration fitted on validation undoes that.
 *
 * Platt scaling on the logit of the raw score (the default): p = σ(a · logit(s) + b). Two parameters fit
 * well from a few dozen validation positives, and with a > 0 the map is strictly increasing, so ROC-AUC,
 * PR-AUC and every threshold decision keep their order. `isotonic` (src/train/calibrate-isotonic.ts) assumes
 * no shape and needs more validation positives; served interpolated, it is strictly increasing too.
 * Pure functions, no I/O: the worker applies the same `applyCalibration` to each score.
 */
import { applyIsotonic, fitIsotonic } from './calibrate-isotonic';
import type { IsotonicCalibration } from './calibrate-isotonic';
import type { Weights } from './evaluate';

export type { IsotonicCalibration };

export interface PlattCalibration {
  readonly method: 'platt';
  readonly a: number;
  readonly b: number;
}

export type Calibration = PlattCalibration | IsotonicCalibration;
export type CalibrationMethod = 'platt' | 'isotonic' | 'none';

/**
 * Fits the configured calibration on validation; undefined for `none` or a degenerate fit (raw scores
 * served). With importance weights a window of weight w counts as w windows, so a validation split drawn
 * from a subsample (the sample store's reservoir) is calibrated to the base rate of the full history.
 */
export function fitCalibration(
  method: CalibrationMethod,
  labels: ArrayLike<number>,
  raw: ArrayLike<number>,
  weights?: Weights,
): Calibration | undefined {
  if (method === 'platt') return fitPlatt(labels, raw, weights);
  if (method === 'isotonic') return fitIsotonic(labels, raw, weights);
  return undefined;
}

const EPS = 1e-7;
const logit = (s: number) => {
  const p = Math.min(1 - EPS, Math.max(EPS, s));
  return Math.log(p / (1 - p));
};
const sigmoid = (z: number) => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

/** A raw score through the calibration; no calibration (older models) leaves the score unchanged. */
export function applyCalibration(calibration: Calibration | undefined, raw: number): number {
  if (!calibration) return raw;
  if (calibration.method === 'isotonic') return applyIsotonic(calibration, raw);
  return sigmoid(calibration.a * logit(raw) + calibration.b);
}

export function calibrateAll(calibration: Calibration | undefined, raw: ArrayLike<number>): Float32Array {
  return Float32Array.from(raw, (s) => applyCalibration(calibration, s));
}

/**
 * Fits Platt's sigmoid by Newton's method on the regularised targets of Platt (1999): positives aim at
 * (N₊+1)/(N₊+2), negatives at 1/(N₋+2), so a perfectly separated validation split does not drive the
 * slope to infinity. Returns undefined when the fit is degenerate (one class, or a slope ≤ 0, which
 * would reverse the ranking): the model then serves raw scores.
 */
export function fitPlatt(
  labels: ArrayLike<number>,
  raw: ArrayLike<number>,
  weights?: Weights,
): PlattCalibration | undefined {
  const n = labels.length;
  const wt = Float64Array.from({ length: n }, (_, i) => (weights ? weights[i]! : 1));
  let [pos, neg] = [0, 0];
  for (let i = 0; i < n; i++) {
    if (labels[i] === 1) pos += wt[i]!;
    else neg += wt[i]!;
  }
  if (pos === 0 || neg === 0) return undefined;
  const hi = (pos + 1) / (pos + 2);
  const lo = 1 / (neg + 2);
  const x = Float64Array.from(raw, logit);
  const y = Float64Array.from(labels, (l) => (l === 1 ? hi : lo));
  let a = 1;
  let b = Math.log((pos + 1) / (neg + 1));
  const loss = (a2: number, b2: number) => {
    let l = 0;
    for (let i = 0; i < n; i++) {
      const z = a2 * x[i]! + b2;
      // log(1 + e^z) − y·z, computed without overflow.
      l += wt[i]! * ((z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z))) - y[i]! * z);
    }
    return l;
  };
  let current = loss(a, b);
  for (let iter = 0; iter < 100; iter++) {
    let ga = 0;
    let gb = 0;
    let haa = 1e-9;
    let hab = 0;
    let hbb = 1e-9;
    for (let i = 0; i < n; i++) {
      const p = sigmoid(a * x[i]! + b);
      const d = wt[i]! * (p - y[i]!);
      const w = wt[i]! * p * (1 - p);
      ga += d * x[i]!;
      gb += d;
      haa += w * x[i]! * x[i]!;
      hab += w * x[i]!;
      hbb += w;
    }
    const det = haa * hbb - hab * hab;
    if (!(Math.abs(det) > 0)) break;
    const da = (hbb * ga - hab * gb) / det;
    const db = (haa * gb - hab * ga) / det;
    // Backtracking: a full Newton step can overshoot far from the optimum.
    let step = 1;
    let next = loss(a - step * da, b - step * db);
    while (next > current && step > 1e-6) {
      step /= 2;
      next = loss(a - step * da, b - step * db);
    }
    if (next > current) break;
    a -= step * da;
    b -= step * db;
    const improved = current - next;
    current = next;
    if (improved < 1e-10 * Math.max(1, Math.abs(current))) break;
  }
  if (!(a > 0) || !Number.isFinite(b)) return undefined;
  return { method: 'platt', a, b };
}

/** Mean squared difference between score and outcome (lower is better; a constant base rate scores p(1−p)). */
export function brierScore(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  weights?: Weights,
): number | null {
  if (labels.length === 0) return null;
  let [sum, total] = [0, 0];
  for (let i = 0; i < labels.length; i++) {
    const w = weights ? weights[i]! : 1;
    sum += w * (scores[i]! - (labels[i] === 1 ? 1 : 0)) ** 2;
    total += w;
  }
  return sum / total;
}

export interface ReliabilityBin {
  readonly from: number;
  readonly to: number;
  readonly windows: number;
  /** Mean predicted probability of the windows in the bin. */
  readonly predicted: number;
  /** Fraction of them that were positive. */
  readonly observed: number;
}

/**
 * Reliability table: equal-width score bins; a calibrated model has observed ≈ predicted in every bin.
 * `windows` counts windows; with importance weights the means are weighted.
 */
export function reliabilityTable(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  bins = 10,
  weights?: Weights,
): ReliabilityBin[] {
  const windows = new Array<number>(bins).fill(0);
  const count = new Array<number>(bins).fill(0);
  const sumP = new Array<number>(bins).fill(0);
  const sumY = new Array<number>(bins).fill(0);
  for (let i = 0; i < labels.length; i++) {
    const k = Math.min(bins - 1, Math.max(0, Math.floor(scores[i]! * bins)));
    const w = weights ? weights[i]! : 1;
    windows[k]!++;
    count[k]! += w;
    sumP[k]! += w * scores[i]!;
    sumY[k]! += labels[i] === 1 ? w : 0;
  }
  const round = (v: number) => Math.round(v * 1e4) / 1e4;
  return count.flatMap((c, k) =>
    c === 0
      ? []
      : [
          {
            from: k / bins,
            to: (k + 1) / bins,
            windows: windows[k]!,
            predicted: round(sumP[k]! / c),
            observed: round(sumY[k]! / c),
          },
        ],
  );
}
