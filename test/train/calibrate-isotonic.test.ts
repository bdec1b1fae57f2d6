import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config';
import { mulberry32 } from '../../src/random';
import { applyCalibration, brierScore, operatingPoint, reliabilityTable, rocAuc } from '../../src/train';
import { fitCalibration } from '../../src/train/calibrate';
import { fitIsotonic } from '../../src/train/calibrate-isotonic';

/**
 * Miscalibrated in a way no sigmoid of the logit undoes: the true probability of failure is raw² (a
 * convex map), and the scores are spread evenly over [0, 1], so a model reporting raw overstates the risk
 * everywhere but at the ends.
 */
function miscalibrated(n: number, seed: number): { labels: number[]; raw: number[] } {
  const rand = mulberry32(seed);
  const labels: number[] = [];
  const raw: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = rand();
    raw.push(s);
    labels.push(rand() < s * s ? 1 : 0);
  }
  return { labels, raw };
}

test('isotonic calibration keeps the ranking (ROC-AUC unchanged) and lowers the Brier score on held-out data', () => {
  const validation = miscalibrated(3000, 5);
  const holdout = miscalibrated(3000, 6);
  const calibration = fitIsotonic(validation.labels, validation.raw);
  assert.ok(calibration);
  // Knots strictly increasing in both coordinates, from 0 to 1: a strictly increasing map.
  for (let k = 1; k < calibration.x.length; k++) {
    assert.ok(calibration.x[k]! > calibration.x[k - 1]!);
    assert.ok(calibration.y[k]! > calibration.y[k - 1]!);
  }
  assert.equal(calibration.x[0], 0);
  assert.equal(calibration.x[calibration.x.length - 1], 1);
  const calibrated = holdout.raw.map((s) => applyCalibration(calibration, s));
  assert.ok(Math.abs(rocAuc(holdout.labels, calibrated)! - rocAuc(holdout.labels, holdout.raw)!) < 1e-9);
  const before = brierScore(holdout.labels, holdout.raw)!;
  const after = brierScore(holdout.labels, calibrated)!;
  assert.ok(after < before * 0.85, `Brier ${after} well under ${before}`);
  // It follows the convex truth where a Platt sigmoid of the logit cannot: P(failure | raw 0.5) = 0.25.
  assert.ok(
    Math.abs(applyCalibration(calibration, 0.5) - 0.25) < 0.06,
    String(applyCalibration(calibration, 0.5)),
  );
  // Reliability: the windows' mean gap between observed rate and predicted probability (expected calibration
  // error over the ten bins) falls to well under a third of the raw scores' gap.
  const ece = (scores: readonly number[]) =>
    reliabilityTable(holdout.labels, scores).reduce(
      (sum, b) => sum + (b.windows * Math.abs(b.observed - b.predicted)) / scores.length,
      0,
    );
  assert.ok(ece(calibrated) < 0.3 * ece(holdout.raw), `ECE ${ece(calibrated)} vs raw ${ece(holdout.raw)}`);
});

test('isotonic: pooled violators, tied raw scores share a knot, one class fits none', () => {
  // Raw 0.2 and 0.4 violate the order (a positive below a negative): pooled into one block.
  const c = fitIsotonic([0, 1, 0, 1, 1], [0.1, 0.2, 0.4, 0.4, 0.9]);
  assert.ok(c);
  // Targets: positives 4/5, negatives 1/4. Blocks: {0.1} → 1/4; {0.2, 0.4, 0.4} → (4/5 + 1/4 + 4/5) / 3; {0.9} → 4/5.
  assert.deepEqual(
    c.x.map((v) => +v.toFixed(6)),
    [0, 0.1, +(1 / 3).toFixed(6), 0.9, 1],
  );
  assert.deepEqual(
    c.y.map((v) => +v.toFixed(6)),
    [0, 0.25, +((0.8 + 0.25 + 0.8) / 3).toFixed(6), 0.8, 1],
  );
  assert.equal(fitIsotonic([1, 1], [0.2, 0.3]), undefined);
  assert.equal(fitCalibration('none', [0, 1], [0.2, 0.3]), undefined);
  assert.equal(fitCalibration('isotonic', [0, 1], [0.2, 0.3])?.method, 'isotonic');
});

test('PDM_CALIBRATION=isotonic reaches the operating point; the threshold separates the same validation windows', () => {
  assert.equal(loadConfig({ PDM_CALIBRATION: 'isotonic' }).training.calibration, 'isotonic');
  assert.throws(() => loadConfig({ PDM_CALIBRATION: 'beta' }), /PDM_CALIBRATION/);
  const validation = miscalibrated(2000, 7);
  const holdout = miscalibrated(2000, 8);
  const op = operatingPoint({ kind: 'recall', target: 0.8 }, 'isotonic', validation, holdout);
  assert.equal(op.calibration?.method, 'isotonic');
  const raw = operatingPoint({ kind: 'recall', target: 0.8 }, 'none', validation, holdout);
  assert.equal(op.holdout.recall, raw.holdout.recall);
  assert.ok(op.brier.served! < op.brier.raw!);
});
