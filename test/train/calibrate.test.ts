import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  applyCalibration,
  brierScore,
  fitPlatt,
  operatingPoint,
  reliabilityTable,
  rocAuc,
} from '../../src/train';

/** A seeded PRNG so the synthetic case is the same every run. */
function prng(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 4294967296;
}

/**
 * A miscalibrated model, as class-weighted training makes one: the true probability of failure is
 * p = σ(z) with a 5% base rate, but the model reports σ(2z + 3) — overconfident and far too high.
 */
function miscalibrated(n: number, seed: number): { labels: number[]; raw: number[] } {
  const rand = prng(seed);
  const labels: number[] = [];
  const raw: number[] = [];
  for (let i = 0; i < n; i++) {
    const z = -3.5 + 2.5 * Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
    labels.push(rand() < 1 / (1 + Math.exp(-z)) ? 1 : 0);
    raw.push(1 / (1 + Math.exp(-(2 * z + 3))));
  }
  return { labels, raw };
}

test('Platt calibration keeps the ranking (ROC-AUC unchanged) and lowers the Brier score on held-out data', () => {
  const validation = miscalibrated(3000, 1);
  const holdout = miscalibrated(3000, 2);
  const calibration = fitPlatt(validation.labels, validation.raw);
  assert.ok(calibration && calibration.a > 0);
  const calibrated = holdout.raw.map((s) => applyCalibration(calibration, s));
  assert.ok(Math.abs(rocAuc(holdout.labels, calibrated)! - rocAuc(holdout.labels, holdout.raw)!) < 1e-9);
  const before = brierScore(holdout.labels, holdout.raw)!;
  const after = brierScore(holdout.labels, calibrated)!;
  assert.ok(after < before * 0.75, `Brier ${after} well under ${before}`);
  // The fit recovers the generating map: logit(p) = (logit(raw) − 3) / 2.
  assert.ok(
    Math.abs(calibration.a - 0.5) < 0.1 && Math.abs(calibration.b + 1.5) < 0.4,
    JSON.stringify(calibration),
  );
  // Reliability: in every well-filled bin the observed rate is near the mean predicted probability.
  for (const bin of reliabilityTable(holdout.labels, calibrated).filter((b) => b.windows >= 200)) {
    assert.ok(Math.abs(bin.observed - bin.predicted) < 0.05, JSON.stringify(bin));
  }
});

test('no calibration (older models) serves the raw score; a one-class split fits none', () => {
  assert.equal(applyCalibration(undefined, 0.73), 0.73);
  assert.equal(fitPlatt([0, 0, 0], [0.1, 0.2, 0.3]), undefined);
});

test('the operating point: threshold chosen on calibrated validation scores, holdout figures at the same threshold', () => {
  const validation = miscalibrated(2000, 3);
  const holdout = miscalibrated(2000, 4);
  const op = operatingPoint({ kind: 'recall', target: 0.8 }, 'platt', validation, holdout);
  assert.ok(op.calibration);
  assert.ok(op.validation.recall >= 0.8);
  // The same validation windows are predicted positive as a raw threshold at the inverse of the map would.
  const flagged = (scores: readonly number[], t: number) => scores.filter((s) => s >= t).length;
  const served = validation.raw.map((s) => applyCalibration(op.calibration, s));
  const raw = operatingPoint({ kind: 'recall', target: 0.8 }, 'none', validation, holdout);
  assert.equal(flagged(served, op.threshold), flagged(validation.raw, raw.threshold));
  assert.equal(op.holdout.recall, raw.holdout.recall);
  assert.ok(op.brier.served! < op.brier.raw!);
  assert.equal(op.policy, 'recall:0.8');
});
