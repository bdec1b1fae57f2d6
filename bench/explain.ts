/**
 * The cost of an occlusion explanation (src/explain) against scoring one window, side by side in one run, on
 * the default model shape (window 24, 4 sensors, text 50, 64 units) with random weights (the cost does not
 * depend on the weights). Every run uses a new token sequence, as a new alert would: nothing comes from the
 * text-encoding cache. Standalone: `node --import tsx bench/explain.ts [--quick]`; prints one JSON line.
 */
import { explainWindow } from '../src/explain';
import { buildDualInputModel } from '../src/model/build';
import { tf } from '../src/model/tf';
import { disposeScoringModel, splitFor } from '../src/score';
import { encodeForModel, KerasTokenizer } from '../src/tokenize';
import { median } from './stats';

export function benchExplain(quick: boolean): Record<string, unknown> {
  const runs = quick ? 10 : 30;
  const shape = {
    window: 24,
    features: 4,
    textMaxLen: 50,
    vocabSize: 1000,
    lstmUnits: 64,
    textLstmUnits: 64,
    embedDim: 8,
    denseUnits: 32,
  };
  const model = buildDualInputModel(shape, 'both', 1);
  const tokenizer = KerasTokenizer.fit([Array.from({ length: 400 }, (_, i) => `w${i}`).join(' ')], {
    numWords: shape.vocabSize,
  });
  const meta = {
    version: 'bench',
    sensors: ['volt', 'rotate', 'pressure', 'vibration'],
    scaler: { mean: [170, 450, 100, 40], std: [15, 50, 10, 5] },
    window: 24,
    textMaxLen: 50,
    calibration: undefined,
  };
  const readings = Array.from({ length: 24 }, (_, i) => ({
    ts: i,
    values: { volt: 170 + i, rotate: 450, pressure: 100 - i / 3, vibration: 40 },
  }));
  // 40 distinct words (the last 50 tokens kept), shifted per run so that no encoding is cached.
  let run = 0;
  const words = () => {
    const shift = run++ % 300;
    return Array.from({ length: 60 }, (_, i) => `w${((i * 7) % 40) + shift}`);
  };
  const scoreOne = () => {
    const tokens = encodeForModel(tokenizer, words(), shape.textMaxLen);
    const t0 = process.hrtime.bigint();
    tf.tidy(() => splitFor(model)!.predict(new Float32Array(24 * 4), tokens, 1, 24, 4, 50));
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  for (let i = 0; i < 3; i++) scoreOne();
  const out: Record<string, unknown> = {
    runs,
    scoreOneWindowMs: median(Array.from({ length: runs }, scoreOne)),
  };
  for (const maxPasses of [8, 16, 64]) {
    let last = { passes: 0, candidates: 0 };
    const explain = () => {
      const e = explainWindow(
        { model, meta, tokenizer },
        { readings, words: words() },
        { maxPasses, top: 5 },
      );
      last = { passes: e.passes, candidates: e.candidates };
      return e.millis;
    };
    for (let i = 0; i < 3; i++) explain();
    out[`explain_maxPasses_${maxPasses}`] = {
      medianMs: median(Array.from({ length: runs }, explain)),
      ...last,
    };
  }
  disposeScoringModel(model);
  return out;
}

if (require.main === module) console.log(JSON.stringify(benchExplain(process.argv.includes('--quick'))));
