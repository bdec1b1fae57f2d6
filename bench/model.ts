import type { LayersModel, Tensor, Tensor2D, Tensor3D } from '@tensorflow/tfjs-node';
import { buildDualInputModel } from '../src/model/build';
import { disposeModel, tf } from '../src/model/tf';
import { compileInference } from '../src/score/fast';
import { kerasPeer } from './keras-peer';
import { repeat, table } from './stats';
import { randomTensors, SHAPES, shapeName } from './training';

/** Windows/s of `once` over `batch` windows, repeated for at least `seconds` (after one warm-up call). */
function rate(batch: number, seconds: number, once: () => void): number {
  once();
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    once();
    n += batch;
  }
  return n / ((performance.now() - start) / 1000);
}

/** The worker's inference pass (fused LSTMs), text branch included, no encoding cache: every row encoded. */
function oursRate(model: LayersModel, x: Tensor, t: Tensor, batch: number, seconds: number): number {
  const fast = compileInference(model);
  if (!fast) throw new Error('inference pass does not apply to this model');
  return rate(batch, seconds, () =>
    tf.tidy(() => fast.head(x as Tensor3D, fast.encodeText(t as Tensor2D)).dataSync()),
  );
}

/**
 * Model-level scoring, same run, medians of 3: our inference pass vs Keras 2.15 `model.predict` vs
 * tfjs-layers `model.predict`, batch 256 (and our pass at batch 32 and 1), text branch included.
 */
export async function benchModel(quick: boolean): Promise<Record<string, unknown>> {
  const seconds = quick ? 1 : 2;
  const reps = quick ? 1 : 3;
  const rows: (string | number)[][] = [];
  const out: Record<string, unknown> = {};
  for (const shape of SHAPES) {
    const model = buildDualInputModel(shape, 'both', 7);
    const figures: Record<string, number> = {};
    for (const batch of [256, 32, 1]) {
      const inputs = randomTensors(shape, batch, 1);
      const { numeric, tokens } = inputs;
      figures[`ours_b${batch}`] = (
        await repeat(reps, () => oursRate(model, numeric, tokens, batch, seconds))
      ).median;
      if (batch === 256)
        figures.layers_b256 = (
          await repeat(reps, () =>
            rate(batch, seconds, () =>
              tf.tidy(() => (model.predict([numeric, tokens]) as Tensor).dataSync()),
            ),
          )
        ).median;
      inputs.dispose();
    }
    disposeModel(model);
    const keras = kerasPeer<{ windowsPerSec: number[] }>({
      mode: 'score',
      shape,
      batch: 256,
      batches: quick ? 8 : 20,
      reps,
    });
    const k = keras ? [...keras.windowsPerSec].sort((a, b) => a - b)[keras.windowsPerSec.length >> 1]! : NaN;
    rows.push([
      shapeName(shape),
      figures.ours_b256!,
      keras ? k : 'n/a',
      keras ? `${(figures.ours_b256! / k).toFixed(2)}x` : 'n/a',
      figures.layers_b256!,
      figures.ours_b32!,
      figures.ours_b1!,
    ]);
    out[shapeName(shape)] = {
      ...figures,
      keras_b256: keras ? k : null,
      ratioVsKeras: keras ? figures.ours_b256! / k : null,
    };
  }
  console.log(
    table(
      `Model-level scoring windows/s, text branch included, no cache (medians of ${reps}, same run)`,
      [
        'shape',
        'ours b256',
        'Keras predict b256',
        'ours/Keras',
        'tfjs-layers predict b256',
        'ours b32',
        'ours b1',
      ],
      rows,
    ),
  );
  return out;
}
