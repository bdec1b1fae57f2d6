import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AGE_CAP_MS } from '../../src/features';
import type { ExtraFeatures } from '../../src/features';
import type { LogEntry, Reading } from '../../src/ingest';
import { featurize } from '../../src/score';
import type { FeatureSpec } from '../../src/score';
import { newMachineState } from '../../src/state';
import type { MachineState } from '../../src/state';
import { decodeState, encodeState } from '../../src/state/codec';
import { buildWindows } from '../../src/train/dataset';
import { fitScaler, toTensors } from '../../src/train/fit';
import { KerasTokenizer } from '../../src/tokenize';
import { applyLog, applyReading } from '../../src/worker/apply';
import type { ApplyContext } from '../../src/worker/apply';
import type { Scoring } from '../../src/worker/ports';

/** Where the records come from: one partition of one topic incarnation (the bookmark's place). */
const PLACE = { topic: 'readings', partition: 0, incarnation: 'i1' };

const HOUR = 3_600_000;
const WINDOW = 5;
const LOOKBACK = 30 * HOUR;
const EXTRAS: ExtraFeatures = {
  channels: ['delta', 'age', 'log-age'],
  deltaLag: 2,
  ageCapMs: AGE_CAP_MS,
  logAgeCapMs: LOOKBACK,
};

/** 40 days of one machine: hourly readings with gaps and a missing sensor now and then, irregular logs. */
function stream(): { readings: Reading[]; logs: LogEntry[] } {
  let s = 11;
  const rand = () => (s = (s * 16807) % 2147483647) / 2147483647;
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  const readings: Reading[] = [];
  const logs: LogEntry[] = [];
  for (let h = 0; h < 40 * 24; h++) {
    if (rand() < 0.05) continue; // a gap in the stream
    const values: Record<string, number> = { a: 100 + 10 * rand() + h / 50 };
    if (rand() > 0.1) values.b = 5 * rand();
    readings.push({ machineId: 'm', ts: t0 + h * HOUR, values });
    // Bursts of logs, then quiet spells longer than the lookback (so log-age meets its cap).
    if ((h % 200 < 60 && rand() < 0.08) || h === 0)
      logs.push({
        machineId: 'm',
        ts: t0 + h * HOUR - 1,
        text: rand() < 0.5 ? 'filter replaced' : 'error3 leak',
      });
  }
  return { readings, logs };
}

/** The worker's path: apply each record in event-time order (logs first at equal time), checkpointing now and then. */
function workerWindows(readings: readonly Reading[], logs: readonly LogEntry[]): Scoring[] {
  const ctx: ApplyContext = {
    topic: 't',
    limits: { window: WINDOW, allowedLatenessMs: HOUR, logLookbackMs: LOOKBACK, maxLogTokens: 10_000 },
    metrics: { recordsDropped: { inc: () => undefined } } as unknown as ApplyContext['metrics'],
    hasModel: () => true,
  };
  const records = [
    ...logs.map((l) => ({ ts: l.ts, log: l })),
    ...readings.map((r) => ({ ts: r.ts, reading: r })),
  ].sort((x, y) => x.ts - y.ts);
  let state: MachineState = newMachineState('m');
  const scored: Scoring[] = [];
  records.forEach((rec, offset) => {
    const at = { place: PLACE, offset, producedAt: 0 };
    if ('log' in rec) applyLog(state, rec.log, at, ctx);
    else {
      const s = applyReading(state, rec.reading, at, ctx).score;
      if (s) scored.push(s);
    }
    // A restart from the checkpoint (as after a crash or an eviction) must keep the machine's age.
    if (offset % 97 === 0) state = decodeState(encodeState(state));
  });
  return scored;
}

test('extra channels are equal in training and in the worker for the same stream (delta, age, log-age)', () => {
  const { readings, logs } = stream();
  const { windows } = buildWindows(readings, logs, [], {
    window: WINDOW,
    horizonMs: HOUR,
    logLookbackMs: LOOKBACK,
  });
  const spec: FeatureSpec = {
    sensors: ['a', 'b'],
    scaler: fitScaler(windows, ['a', 'b']),
    window: WINDOW,
    textMaxLen: 6,
    tokenizer: KerasTokenizer.fit(
      logs.map((l) => l.text),
      { numWords: 20 },
    ),
    extraFeatures: EXTRAS,
  };
  const f = 2 + 2 + 1 + 1;
  const trained = toTensors(windows, spec);
  const trainNumeric = trained.numeric.dataSync() as Float32Array;
  const trainTokens = trained.tokens.dataSync() as Float32Array;
  trained.dispose();
  const served = new Map(workerWindows(readings, logs).map((s) => [s.ts, s]));
  const ages = new Set<number>();
  const logAges = new Set<number>();
  windows.forEach((w, i) => {
    const s = served.get(w.endTs);
    assert.ok(s, `the worker scored the window ending at ${w.endTs}`);
    const x = featurize(s.readings, s.words, spec, s.context);
    const expected = trainNumeric.subarray(i * WINDOW * f, (i + 1) * WINDOW * f);
    assert.deepEqual([...x.numeric], [...expected], `window ${i} (${new Date(w.endTs).toISOString()})`);
    assert.deepEqual([...x.tokens], [...trainTokens.subarray(i * 6, (i + 1) * 6)]);
    ages.add(x.numeric[(WINDOW - 1) * f + 4]!);
    logAges.add(x.numeric[(WINDOW - 1) * f + 5]!);
  });
  assert.equal(served.size, windows.length + 1, 'all but the last window are labelled (horizon 1 h)');
  // The stream reaches the caps and stays below them, so both branches of each feature were compared.
  assert.ok(ages.has(1) && [...ages].some((a) => a > 0 && a < 1));
  assert.ok(logAges.has(1) && [...logAges].some((a) => a >= 0 && a < 1));
});

test('a checkpoint written before firstTs loads without it and ages from its oldest reading', () => {
  const state = newMachineState('m');
  state.readings.push({ ts: 5_000, values: { a: 1 } }, { ts: 6_000, values: { a: 2 } });
  const restored = decodeState(encodeState(state)); // firstTs never set: what an older checkpoint holds
  assert.equal(restored.firstTs, undefined);
  const ctx: ApplyContext = {
    topic: 't',
    limits: { window: 3, allowedLatenessMs: 0, logLookbackMs: HOUR, maxLogTokens: 100 },
    metrics: { recordsDropped: { inc: () => undefined } } as unknown as ApplyContext['metrics'],
    hasModel: () => true,
  };
  const s = applyReading(
    restored,
    { machineId: 'm', ts: 7_000, values: { a: 3 } },
    { place: PLACE, offset: 0, producedAt: 0 },
    ctx,
  ).score;
  assert.deepEqual(s?.context, { firstTs: 5_000, lastLogTs: undefined });
  assert.equal(decodeState(encodeState(restored)).firstTs, 5_000);
});
