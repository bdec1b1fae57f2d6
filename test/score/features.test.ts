import assert from 'node:assert/strict';
import { test } from 'node:test';
import { featurize } from '../../src/score';
import type { TimedValues } from '../../src/state';
import { KerasTokenizer } from '../../src/tokenize';

test('a sensor named like an Object.prototype member reads as absent, never as the inherited function', () => {
  const spec = { sensors: ['toString', 'v'], scaler: { mean: [10, 1], std: [2, 1] }, window: 2, textMaxLen: 2, tokenizer: KerasTokenizer.fit([], { numWords: 10 }) };
  const readings: TimedValues[] = [
    { ts: 1, values: { v: 3 } },
    { ts: 2, values: { v: 5, toString: 14 } },
  ];
  const f = featurize(readings, [], spec);
  assert.deepEqual([...f.numeric], [0, 2, 2, 4]); // row 0: toString imputed (0 after scaling); row 1: (14-10)/2
  assert.deepEqual(f.imputed, ['toString']);
  assert.ok([...f.numeric].every(Number.isFinite));
});
