import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildWindows, splitByTime } from '../../src/train';

const H = 3_600_000;
const spec = { window: 2, horizonMs: 3 * H, logLookbackMs: 24 * H };
const readings = (id: string, hours: number[]) =>
  hours.map((h) => ({ machineId: id, ts: h * H, values: { v: h } }));

test('labels follow docs/semantics.md: positive within the horizon, negative only when the stream is known past it, else censored', () => {
  const { windows, summary } = buildWindows(
    [...readings('a', [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), ...readings('b', [0, 1, 2, 3, 4])],
    [{ machineId: 'a', ts: 2.5 * H, text: 'Grinding noise!' }],
    [{ machineId: 'a', ts: 6.5 * H, component: undefined }],
    spec,
  );
  const label = (id: string, h: number) =>
    windows.find((w) => w.machineId === id && w.endTs === h * H)?.label;
  assert.equal(label('a', 3), 1 - 1); // failure at 6.5 is 3.5 h away: outside the 3 h horizon → negative (stream known to 10)
  assert.equal(label('a', 4), 1);
  assert.equal(label('a', 6), 1);
  assert.equal(label('a', 7), 0);
  assert.equal(label('a', 8), undefined); // only 2 h of stream after it: censored, never a negative
  assert.equal(label('b', 1), 0);
  assert.equal(label('b', 2), undefined);
  assert.deepEqual(windows.find((w) => w.machineId === 'a' && w.endTs === 4 * H)?.words, [
    'grinding',
    'noise',
  ]);
  assert.equal(summary.windows.censored, 3 + 3); // a: 8, 9, 10; b: 2, 3, 4
});

test('failures that cannot label anything are counted, not fatal', () => {
  const { summary } = buildWindows(
    readings('a', [1, 2, 3, 4, 5, 6]),
    [],
    [
      { machineId: 'ghost', ts: 3 * H, component: undefined },
      { machineId: 'a', ts: 0.5 * H, component: undefined },
      { machineId: 'a', ts: 1.5 * H, component: undefined },
      { machineId: 'a', ts: 5.5 * H, component: undefined },
      { machineId: 'a', ts: 5.5 * H, component: 'comp2' },
    ],
    spec,
  );
  assert.deepEqual(summary.failuresIgnored, {
    unknownMachine: 1,
    noPrecedingReadings: 1,
    beforeFirstWindow: 1,
    duplicate: 1,
  });
});

test('the split is by time, and no training label looks into the validation period', () => {
  const { windows } = buildWindows(
    readings(
      'a',
      Array.from({ length: 100 }, (_, i) => i),
    ),
    [],
    [],
    spec,
  );
  const split = splitByTime(windows, spec.horizonMs);
  const lastTrain = Math.max(...split.train.map((w) => w.endTs));
  assert.ok(lastTrain + spec.horizonMs < split.boundaries.validationFrom);
  assert.ok(
    Math.max(...split.validation.map((w) => w.endTs)) < Math.min(...split.holdout.map((w) => w.endTs)),
  );
});
