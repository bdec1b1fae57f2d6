import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fitIsotonic } from '../../src/train/calibrate-isotonic';
import { brierScore, fitPlatt, reliabilityTable } from '../../src/train/calibrate';
import { atThreshold, prAuc, rocAuc } from '../../src/train/evaluate';
import { chooseThreshold } from '../../src/train/threshold';
import { classWeights, lossWeights } from '../../src/train/fit-common';
import type { ThresholdPolicy } from '../../src/train/threshold';
import { mulberry32 } from '../../src/random';

/**
 * Importance weights (a reservoir window standing for the windows the store gave up): every figure must
 * count a window of integer weight w exactly as w copies of it.
 */
function sample(n: number, seed: number) {
  const random = mulberry32(seed);
  const labels: number[] = [];
  const scores: number[] = [];
  const weights: number[] = [];
  for (let i = 0; i < n; i++) {
    const y = random() < 0.2 ? 1 : 0;
    labels.push(y);
    // Overlapping classes, with some exact ties.
    scores.push(Math.round((0.35 * y + 0.65 * random()) * 50) / 50);
    weights.push(y === 1 ? 1 : 1 + Math.floor(random() * 4));
  }
  const expanded = { labels: [] as number[], scores: [] as number[] };
  labels.forEach((y, i) => {
    for (let k = 0; k < weights[i]!; k++) {
      expanded.labels.push(y);
      expanded.scores.push(scores[i]!);
    }
  });
  return { labels, scores, weights, expanded };
}

const close = (a: number | null, b: number | null, what: string, tolerance = 1e-9) =>
  assert.ok(a !== null && b !== null && Math.abs(a - b) < tolerance, `${what}: ${a} vs ${b}`);

test('a window of weight w counts as w copies in PR-AUC, ROC-AUC, the threshold figures and the Brier score', () => {
  const { labels, scores, weights, expanded } = sample(300, 7);
  close(prAuc(labels, scores, weights), prAuc(expanded.labels, expanded.scores), 'PR-AUC');
  close(rocAuc(labels, scores, weights), rocAuc(expanded.labels, expanded.scores), 'ROC-AUC');
  close(brierScore(labels, scores, weights), brierScore(expanded.labels, expanded.scores), 'Brier');
  assert.deepEqual(
    atThreshold(labels, scores, 0.5, weights),
    atThreshold(expanded.labels, expanded.scores, 0.5),
  );
  const policies: ThresholdPolicy[] = [
    { kind: 'max-f1' },
    { kind: 'recall', target: 0.8 },
    { kind: 'precision', target: 0.5 },
    { kind: 'cost', fn: 10, fp: 1 },
  ];
  for (const policy of policies)
    assert.deepEqual(
      chooseThreshold(policy, labels, scores, weights),
      chooseThreshold(policy, expanded.labels, expanded.scores),
      policy.kind,
    );
  const table = reliabilityTable(labels, scores, 10, weights);
  const copies = reliabilityTable(expanded.labels, expanded.scores);
  assert.deepEqual(
    table.map((b) => [b.predicted, b.observed]),
    copies.map((b) => [b.predicted, b.observed]),
  );
  // Without weights nothing changes: the unweighted figures are the old ones.
  assert.equal(prAuc(labels, scores, undefined), prAuc(labels, scores));
  // Down-weighting the negatives raises precision-based figures, as fewer false alarms would.
  assert.ok(prAuc(labels, scores)! > prAuc(labels, scores, weights)!);
});

test('Platt and isotonic calibration fitted on weighted windows equal the fits on the copies', () => {
  const { labels, scores, weights, expanded } = sample(200, 11);
  const raw = scores.map((s) => Math.min(0.99, Math.max(0.01, s)));
  const rawCopies = expanded.scores.map((s) => Math.min(0.99, Math.max(0.01, s)));
  const platt = fitPlatt(labels, raw, weights)!;
  const plattCopies = fitPlatt(expanded.labels, rawCopies)!;
  close(platt.a, plattCopies.a, 'Platt a');
  close(platt.b, plattCopies.b, 'Platt b');
  const iso = fitIsotonic(labels, raw, weights)!;
  const isoCopies = fitIsotonic(expanded.labels, rawCopies)!;
  assert.equal(iso.x.length, isoCopies.x.length);
  iso.x.forEach((x, k) => close(x, isoCopies.x[k]!, `knot ${k} x`));
  iso.y.forEach((y, k) => close(y, isoCopies.y[k]!, `knot ${k} y`));
  // Negatives weighing more lower the served probability of a failure: the full history's base rate.
  const unweighted = fitPlatt(labels, raw)!;
  const served = (c: { a: number; b: number }) => 1 / (1 + Math.exp(-(c.a * Math.log(0.5 / 0.5) + c.b)));
  assert.ok(served(platt) < served(unweighted));
});

test('balanced class weights count each class by its importance weight; unit weights change nothing', () => {
  const labels = Float32Array.from([1, 0, 0, 0]);
  assert.deepEqual(classWeights(labels), { 0: 4 / 6, 1: 2 });
  assert.deepEqual(classWeights(labels, Float32Array.from([1, 1, 1, 1])), classWeights(labels));
  // Three negatives standing for 9: each class still carries half the loss, and the mean weight is 1.
  const weights = Float32Array.from([1, 3, 3, 3]);
  const loss = lossWeights(labels, weights);
  // float32, as the loss tensor takes them
  close(loss[0]!, loss[1]! + loss[2]! + loss[3]!, 'class halves', 1e-6);
  close(
    loss.reduce((a, b) => a + b, 0),
    labels.length,
    'total',
    1e-6,
  );
});
