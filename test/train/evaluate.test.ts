import assert from 'node:assert/strict';
import { test } from 'node:test';
import { atThreshold, chooseThreshold, prAuc, rocAuc } from '../../src/train';

test('ROC-AUC and PR-AUC match hand-computed values (scikit-learn conventions)', () => {
  const y = [0, 0, 1, 1];
  const s = [0.1, 0.4, 0.35, 0.8];
  assert.equal(rocAuc(y, s), 0.75);
  // average precision: thresholds 0.8 (P=1,R=.5), 0.4 (P=.5,R=.5), 0.35 (P=2/3,R=1) → .5*1 + .5*(2/3)
  assert.ok(Math.abs(prAuc(y, s)! - (0.5 + 0.5 * (2 / 3))) < 1e-12);
  assert.equal(rocAuc([1, 1], [0.2, 0.3]), null);
  assert.equal(prAuc([0, 0], [0.2, 0.3]), null);
});

test('the best-F1 threshold separates separable scores', () => {
  const best = chooseThreshold({ kind: 'max-f1' }, [0, 0, 0, 1, 1], [0.1, 0.2, 0.3, 0.7, 0.9]);
  assert.equal(best.f1, 1);
  assert.ok(best.threshold > 0.3 && best.threshold <= 0.7);
  assert.deepEqual(atThreshold([1, 0], [0.6, 0.4], 0.5), { threshold: 0.5, precision: 1, recall: 1, f1: 1 });
});
