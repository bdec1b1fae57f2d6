import { atThreshold } from './evaluate';
import type { AtThreshold, Weights } from './evaluate';

/**
 * The operating point as a policy (PDM_THRESHOLD_POLICY). Thresholds are chosen on validation scores —
 * calibrated ones when the model is calibrated — and the figures at that threshold travel with the model.
 */
export type ThresholdPolicy =
  | { readonly kind: 'max-f1' }
  | { readonly kind: 'recall'; readonly target: number }
  | { readonly kind: 'precision'; readonly target: number }
  | { readonly kind: 'cost'; readonly fn: number; readonly fp: number }
  | { readonly kind: 'fixed'; readonly value: number };

/** Thresholds live in (0, 1): the registry refuses 0 and 1, and a score of exactly 0 or 1 must still compare. */
export const THRESHOLD_MIN = 0.001;
export const THRESHOLD_MAX = 0.999;

const fraction = (text: string): number | undefined => {
  const n = Number(text);
  return text.trim() !== '' && Number.isFinite(n) && n > 0 && n < 1 ? n : undefined;
};
const positive = (text: string): number | undefined => {
  const n = Number(text);
  return text.trim() !== '' && Number.isFinite(n) && n > 0 ? n : undefined;
};

/** Parses a policy string; returns a message (without the variable name) when it is not one. */
export function parseThresholdPolicy(text: string): ThresholdPolicy | { error: string } {
  const t = text.trim().toLowerCase();
  const usage =
    'expected max-f1, recall:R, precision:P (0 < R, P < 1), cost:FN/FP (positive numbers) or a fixed threshold in (0, 1)';
  if (t === 'max-f1') return { kind: 'max-f1' };
  const [head, arg, ...rest] = t.split(':');
  if (arg !== undefined && rest.length === 0) {
    if (head === 'recall' || head === 'precision') {
      const target = fraction(arg);
      return target === undefined
        ? { error: `${head} target "${arg}" is not a number strictly between 0 and 1` }
        : { kind: head, target };
    }
    if (head === 'cost') {
      const [fnText, fpText, ...more] = arg.split('/');
      const fn = positive(fnText ?? '');
      const fp = positive(fpText ?? '');
      return fn === undefined || fp === undefined || more.length
        ? { error: `cost "${arg}" is not FN/FP with two positive numbers (e.g. cost:10/1)` }
        : { kind: 'cost', fn, fp };
    }
  }
  const value = fraction(t);
  if (value !== undefined) return { kind: 'fixed', value };
  return { error: `"${text}": ${usage}` };
}

export function formatThresholdPolicy(p: ThresholdPolicy): string {
  switch (p.kind) {
    case 'max-f1':
      return 'max-f1';
    case 'recall':
    case 'precision':
      return `${p.kind}:${p.target}`;
    case 'cost':
      return `cost:${p.fn}/${p.fp}`;
    case 'fixed':
      return String(p.value);
  }
}

export interface OperatingPoint extends AtThreshold {
  /** Set when the policy's target cannot be met on validation: the closest threshold was taken instead. */
  readonly warning?: string;
}

interface Candidate {
  readonly threshold: number;
  readonly tp: number;
  readonly fp: number;
}

/**
 * Every distinct cut on the validation scores, from the highest threshold to the lowest. A cut between two
 * neighbouring distinct scores is placed at their midpoint: the validation figures are those of the
 * highest threshold that predicts the same windows, and a later window scoring just under the lowest
 * validation positive is not lost to a threshold sitting exactly on it.
 */
function candidates(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  weights: Weights,
): { list: Candidate[]; positives: number } {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  const w = (i: number) => (weights ? weights[i]! : 1);
  let positives = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] === 1) positives += w(i);
  const list: Candidate[] = [];
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < order.length;) {
    const s = scores[order[i]!]!;
    let j = i;
    for (; j < order.length && scores[order[j]!] === s; j++) {
      if (labels[order[j]!] === 1) tp += w(order[j]!);
      else fp += w(order[j]!);
    }
    const next = j < order.length ? scores[order[j]!]! : undefined;
    const cut = next === undefined ? s : (s + next) / 2;
    list.push({ threshold: Math.min(THRESHOLD_MAX, Math.max(THRESHOLD_MIN, cut)), tp, fp });
    i = j;
  }
  return { list, positives };
}

const figures = (c: Candidate, positives: number): AtThreshold => {
  const precision = c.tp + c.fp === 0 ? 0 : c.tp / (c.tp + c.fp);
  const recall = positives === 0 ? 0 : c.tp / positives;
  return {
    threshold: c.threshold,
    precision,
    recall,
    f1: precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall),
  };
};

/**
 * The threshold the policy promises on these validation labels and scores, with the validation figures at
 * it; windows counted by their importance weights when given (precision and cost then count false alarms
 * as the full history would have had them).
 */
export function chooseThreshold(
  policy: ThresholdPolicy,
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  weights?: Weights,
): OperatingPoint {
  if (policy.kind === 'fixed') return atThreshold(labels, scores, policy.value, weights);
  const { list, positives } = candidates(labels, scores, weights);
  // Re-evaluate at the (possibly clamped) threshold: the figures must be what the threshold really does.
  const at = (c: Candidate) => atThreshold(labels, scores, c.threshold, weights);
  if (list.length === 0 || positives === 0)
    return {
      ...atThreshold(labels, scores, 0.5, weights),
      warning: 'validation holds no positive window: threshold 0.5',
    };
  switch (policy.kind) {
    case 'max-f1': {
      let best = list[0]!;
      for (const c of list) if (figures(c, positives).f1 > figures(best, positives).f1) best = c;
      return at(best);
    }
    case 'recall': {
      // Candidates run from high to low threshold, so recall only grows: the first that reaches the target
      // is the highest threshold that does.
      const hit = list.find((c) => c.tp / positives >= policy.target);
      const point = at(hit ?? list[list.length - 1]!);
      return point.recall >= policy.target
        ? point
        : {
            ...point,
            warning: `no threshold reaches validation recall ${policy.target} (best ${point.recall.toFixed(3)}); the lowest threshold was taken`,
          };
    }
    case 'precision': {
      // The lowest threshold (most recall) whose precision still reaches the target.
      const ok = list.filter((c) => figures(c, positives).precision >= policy.target);
      if (ok.length) return at(ok[ok.length - 1]!);
      let best = list[0]!;
      for (const c of list)
        if (figures(c, positives).precision > figures(best, positives).precision) best = c;
      const point = at(best);
      return {
        ...point,
        warning: `no threshold reaches validation precision ${policy.target} (best ${point.precision.toFixed(3)}); the most precise threshold was taken`,
      };
    }
    case 'cost': {
      // Expected cost of a cut: missed failures × FN cost + false alarms × FP cost; ties go to the higher threshold.
      const cost = (c: Candidate) => (positives - c.tp) * policy.fn + c.fp * policy.fp;
      const allNegative = positives * policy.fn;
      let best = list[0]!;
      for (const c of list) if (cost(c) < cost(best)) best = c;
      if (allNegative <= cost(best))
        return {
          ...atThreshold(labels, scores, THRESHOLD_MAX, weights),
          warning: `alerting on nothing is cheapest at cost ${policy.fn}/${policy.fp}: threshold ${THRESHOLD_MAX}`,
        };
      return at(best);
    }
  }
}
