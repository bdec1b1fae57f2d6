import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decileBin, DriftWindow, psiOfCounts } from '../../src/drift';
import { mulberry32 } from '../../src/simulate/fleet';

const H = 3_600_000;
const reference = {
  version: 'v1',
  sensors: ['volt', 'pressure'],
  mean: [170, 100],
  std: [10, 5],
  knows: (w: string) => ['bearing', 'noise'].includes(w),
};

/** Box–Muller normal draws from a seeded generator. */
function normal(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

test('PSI by hand: equal shares give 0; everything in one decile gives the formula', () => {
  assert.equal(psiOfCounts(new Array(10).fill(7)), 0);
  const one = [0, 0, 0, 0, 0, 0, 0, 0, 0, 100];
  const expected = 9 * (1e-4 - 0.1) * Math.log(1e-4 / 0.1) + (1 - 0.1) * Math.log(1 / 0.1);
  assert.ok(Math.abs(psiOfCounts(one) - expected) < 1e-12);
  assert.deepEqual([-5, -1.28, 0, 0.1, 5].map(decileBin), [0, 1, 5, 5, 9]);
});

test('a sensor distributed like the training scaler has PSI near 0; a shifted one is flagged, with the shift', () => {
  const rand = mulberry32(3);
  const w = new DriftWindow(24 * H);
  w.setReference(reference);
  for (let i = 0; i < 5_000; i++)
    w.reading((i % 24) * H, { volt: 170 + 10 * normal(rand), pressure: 100 + 5 * (normal(rand) + 1) });
  const s = w.snapshot()!;
  const volt = s.sensors.find((x) => x.sensor === 'volt')!;
  const pressure = s.sensors.find((x) => x.sensor === 'pressure')!;
  assert.ok(volt.psi < 0.01, `volt psi ${volt.psi}`);
  assert.ok(Math.abs(volt.meanShift) < 0.05);
  assert.ok(pressure.psi > 0.25, `pressure psi ${pressure.psi}`);
  assert.ok(Math.abs(pressure.meanShift - 1) < 0.05);
});

test('the window slides in event time; the OOV share counts tokens the vocabulary does not map; a new model restarts it', () => {
  const w = new DriftWindow(4 * H, 4);
  w.setReference(reference);
  w.words(0, ['bearing', 'unknown', 'x']);
  w.words(H, ['Noise', 'bearing']);
  assert.equal(w.snapshot()!.oovRatio, 2 / 5);
  w.words(4 * H, ['bearing']); // the slot at 0 h leaves the 4 h window
  assert.equal(w.snapshot()!.oovRatio, 0);
  w.words(0, ['unknown']); // older than the window: ignored
  assert.equal(w.snapshot()!.tokens, 3);
  w.setReference({ ...reference, version: 'v2' });
  assert.equal(w.snapshot()!.tokens, 0);
});
