import assert from 'node:assert/strict';
import { test } from 'node:test';
import { featurize } from '../../src/score';
import { fitScaler } from '../../src/train/fit';
import type { TimedValues } from '../../src/state';
import { KerasTokenizer } from '../../src/tokenize';

test('a sensor named like an Object.prototype member reads as absent, never as the inherited function', () => {
  const spec = {
    sensors: ['toString', 'v'],
    scaler: { mean: [10, 1], std: [2, 1] },
    window: 2,
    textMaxLen: 2,
    tokenizer: KerasTokenizer.fit([], { numWords: 10 }),
  };
  const readings: TimedValues[] = [
    { ts: 1, values: { v: 3 } },
    { ts: 2, values: { v: 5, toString: 14 } },
  ];
  const f = featurize(readings, [], spec);
  assert.deepEqual([...f.numeric], [0, 2, 2, 4]); // row 0: toString imputed (0 after scaling); row 1: (14-10)/2
  assert.deepEqual(f.imputed, ['toString']);
  assert.ok([...f.numeric].every(Number.isFinite));
});

test('the training scaler ignores inherited members too: a sensor named toString gets a finite mean and std', () => {
  const window = (values: Record<string, number>) => ({
    machineId: 'm',
    endTs: 0,
    readings: [{ ts: 0, values }],
    words: [],
    label: 0 as const,
  });
  const scaler = fitScaler(
    [window({ v: 1 }), window({ v: 3, toString: 4 }), window({ v: 5, toString: 8 })],
    ['toString', 'v'],
  );
  assert.deepEqual(scaler.mean, [6, 3]);
  assert.equal(scaler.std[0], 2);
  assert.ok(Math.abs(scaler.std[1]! - Math.sqrt(8 / 3)) < 1e-12);
});
