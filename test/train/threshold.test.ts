import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config';
import { atThreshold, chooseThreshold, parseThresholdPolicy } from '../../src/train';
import type { ThresholdPolicy } from '../../src/train';

/**
 * A known distribution: 20 positives spread over [0.30, 0.97], 180 negatives over [0.01, 0.70], so the
 * classes overlap and every policy has a real choice to make.
 */
const positives = Array.from({ length: 20 }, (_, i) => 0.3 + (i * 0.67) / 19);
const negatives = Array.from({ length: 180 }, (_, i) => 0.01 + (i * 0.69) / 179);
const labels = [...positives.map(() => 1), ...negatives.map(() => 0)];
const scores = [...positives, ...negatives];
/** Every threshold that splits the scores differently: each distinct score itself. */
const cuts = [...new Set(scores)].sort((a, b) => b - a);
const expectedCost = (t: number, fn: number, fp: number) => {
  const m = atThreshold(labels, scores, t);
  const tp = Math.round(m.recall * positives.length);
  const predicted = scores.filter((s) => s >= t).length;
  return (positives.length - tp) * fn + (predicted - tp) * fp;
};
const choose = (p: ThresholdPolicy) => chooseThreshold(p, labels, scores);

test('recall:R picks the highest threshold whose validation recall reaches R', () => {
  for (const target of [0.5, 0.8, 0.9, 0.95]) {
    const point = choose({ kind: 'recall', target });
    assert.ok(point.recall >= target, `recall ${point.recall} >= ${target}`);
    assert.equal(point.warning, undefined);
    // No cut above it (one that predicts fewer windows) still reaches the target.
    for (const t of cuts.filter(
      (c) =>
        c > point.threshold &&
        scores.filter((s) => s >= c).length < scores.filter((s) => s >= point.threshold).length,
    )) {
      assert.ok(
        atThreshold(labels, scores, t).recall < target,
        `a higher cut ${t} would also reach ${target}`,
      );
    }
    assert.deepEqual(atThreshold(labels, scores, point.threshold), {
      threshold: point.threshold,
      precision: point.precision,
      recall: point.recall,
      f1: point.f1,
    });
  }
});

test('precision:P picks the lowest threshold whose precision reaches P (most recall at that precision)', () => {
  for (const target of [0.6, 0.8, 0.9]) {
    const point = choose({ kind: 'precision', target });
    assert.ok(point.precision >= target);
    const bestRecall = Math.max(
      ...cuts
        .map((t) => atThreshold(labels, scores, t))
        .filter((m) => m.precision >= target)
        .map((m) => m.recall),
    );
    assert.equal(point.recall, bestRecall);
  }
});

test('max-f1 reaches the best F1 over every cut; cost:FN/FP the least expected cost', () => {
  const bestF1 = Math.max(...cuts.map((t) => atThreshold(labels, scores, t).f1));
  assert.ok(Math.abs(choose({ kind: 'max-f1' }).f1 - bestF1) < 1e-12);
  for (const [fn, fp] of [
    [10, 1],
    [1, 1],
    [3, 2],
  ] as const) {
    const point = choose({ kind: 'cost', fn, fp });
    const least = Math.min(...cuts.map((t) => expectedCost(t, fn, fp)));
    assert.equal(expectedCost(point.threshold, fn, fp), least, `cost:${fn}/${fp}`);
  }
  // A high cost of missing failures moves the threshold down (more recall) compared with equal costs.
  assert.ok(
    choose({ kind: 'cost', fn: 10, fp: 1 }).threshold < choose({ kind: 'cost', fn: 1, fp: 1 }).threshold,
  );
});

test('a fixed threshold is used as given; an unreachable target takes the closest threshold and warns', () => {
  const fixed = choose({ kind: 'fixed', value: 0.42 });
  assert.equal(fixed.threshold, 0.42);
  // The top score is a negative, so no cut reaches precision 0.99: the most precise one (2 of 3) is taken.
  const unreachable = chooseThreshold(
    { kind: 'precision', target: 0.99 },
    [0, 1, 1, 0],
    [0.9, 0.8, 0.7, 0.6],
  );
  assert.match(unreachable.warning ?? '', /precision 0\.99/);
  assert.equal(unreachable.precision, 2 / 3);
  assert.equal(unreachable.recall, 1);
  const lowScores = chooseThreshold({ kind: 'recall', target: 0.9 }, [1, 1, 0], [0.0001, 0.9, 0.00001]);
  assert.match(
    lowScores.warning ?? '',
    /recall 0\.9/,
    'scores under the smallest allowed threshold cannot all be caught',
  );
});

test('policy strings: every form parses; an unknown one stops the config naming PDM_THRESHOLD_POLICY', () => {
  assert.deepEqual(parseThresholdPolicy('max-f1'), { kind: 'max-f1' });
  assert.deepEqual(parseThresholdPolicy('recall:0.95'), { kind: 'recall', target: 0.95 });
  assert.deepEqual(parseThresholdPolicy('precision:0.9'), { kind: 'precision', target: 0.9 });
  assert.deepEqual(parseThresholdPolicy('cost:10/1'), { kind: 'cost', fn: 10, fp: 1 });
  assert.deepEqual(parseThresholdPolicy('0.3'), { kind: 'fixed', value: 0.3 });
  assert.deepEqual(loadConfig({ PDM_THRESHOLD_POLICY: 'cost:5/2' }).training.thresholdPolicy, {
    kind: 'cost',
    fn: 5,
    fp: 2,
  });
  assert.deepEqual(loadConfig({}).training.thresholdPolicy, { kind: 'cost', fn: 5, fp: 1 });
  for (const bad of [
    'f1',
    'recall:1.5',
    'recall:',
    'cost:10',
    'cost:-1/1',
    'precision:x',
    '1.2',
    'recall:0.9:1',
  ]) {
    assert.throws(
      () => loadConfig({ PDM_THRESHOLD_POLICY: bad }),
      (e: unknown) => e instanceof ConfigError && /PDM_THRESHOLD_POLICY/.test(e.message),
      bad,
    );
  }
});
