import type { LayersModel } from '@tensorflow/tfjs-node';
import { createLogger } from '../src/log';
import { buildDualInputModel } from '../src/model/build';
import type { DualInputShape } from '../src/model/build';
import { disposeModel, tf } from '../src/model/tf';
import { trainTensors } from '../src/train/fit';
import type { Tensors, TrainingPath } from '../src/train/fit';
import { kerasPeer } from './keras-peer';
import { median, table } from './stats';

/** The two shapes: the contract-check fleet's (T=50, F=25) and a small one (T=24, F=8), 50 tokens. */
export const SHAPES: readonly DualInputShape[] = [
  {
    window: 50,
    features: 25,
    textMaxLen: 50,
    vocabSize: 1000,
    lstmUnits: 64,
    textLstmUnits: 64,
    embedDim: 8,
    denseUnits: 32,
  },
  {
    window: 24,
    features: 8,
    textMaxLen: 50,
    vocabSize: 1000,
    lstmUnits: 64,
    textLstmUnits: 64,
    embedDim: 8,
    denseUnits: 32,
  },
];
export const shapeName = (s: DualInputShape) => `T=${s.window} F=${s.features} L=${s.textMaxLen}`;

/** Random windows (20% positive): throughput does not depend on what the data mean. */
export function randomTensors(shape: DualInputShape, n: number, seed: number): Tensors {
  const t = {
    numeric: tf.randomNormal([n, shape.window, shape.features], 0, 1, 'float32', seed),
    tokens: tf.randomUniform([n, shape.textMaxLen], 0, shape.vocabSize, 'int32', seed + 1).toFloat(),
    labels: tf.tidy(() =>
      tf
        .randomUniform([n, 1], 0, 1, 'float32', seed + 2)
        .less(0.2)
        .toFloat(),
    ),
  };
  return { ...t, dispose: () => tf.dispose([t.numeric, t.tokens, t.labels]) };
}

/** Windows/s of each training epoch through our trainer (the fused loop, or tfjs-layers' model.fit). */
async function oursPerEpoch(
  shape: DualInputShape,
  path: TrainingPath,
  windows: number,
  epochs: number,
): Promise<number[]> {
  const model: LayersModel = buildDualInputModel(shape, 'both', 3);
  const tr = randomTensors(shape, windows, 5);
  const va = randomTensors(shape, 64, 9);
  const rates: number[] = [];
  try {
    await trainTensors(
      model,
      tr,
      va,
      {
        epochs,
        batchSize: 32,
        patience: epochs,
        seed: 1,
        path,
        onEpoch: (e) => rates.push(windows / e.seconds),
      },
      createLogger('error'),
    );
  } finally {
    tr.dispose();
    va.dispose();
    disposeModel(model);
  }
  return rates;
}

/**
 * Training windows/s, batch 32, the same model in the same run: ours (fused kernels), Keras 2.15 (the
 * peer, dropout and recurrent dropout .3 as the seed) and tfjs-layers' model.fit (our path before the
 * fused kernels, on fewer windows: it is slow). Medians of 3 epochs; the shuffled epoch is the unit a
 * retrain multiplies.
 */
export async function benchTraining(quick: boolean): Promise<Record<string, unknown>> {
  const windows = quick ? 600 : 3_000;
  const epochs = 3;
  const rows: (string | number)[][] = [];
  const out: Record<string, unknown> = { windows, epochs, batchSize: 32 };
  for (const shape of SHAPES) {
    const fused = await oursPerEpoch(shape, 'fused', windows, epochs);
    const layers = await oursPerEpoch(shape, 'layers', quick ? 96 : 320, 1);
    const keras = kerasPeer<{ windowsPerSec: number[] }>({
      mode: 'train',
      shape,
      windows,
      epochs,
      batch: 32,
    });
    const k = keras ? median(keras.windowsPerSec) : NaN;
    const f = median(fused);
    rows.push([
      shapeName(shape),
      f,
      keras ? k : 'n/a',
      keras ? `${(f / k).toFixed(2)}x` : 'n/a',
      median(layers),
      `${(f / median(layers)).toFixed(1)}x`,
    ]);
    out[shapeName(shape)] = {
      fused,
      keras: keras?.windowsPerSec ?? null,
      layers,
      ratioVsKeras: keras ? f / k : null,
    };
  }
  console.log(
    table(
      `Training windows/s, batch 32, ${windows} windows, median of ${epochs} epochs (same run)`,
      ['shape', 'ours (fused)', 'Keras 2.15', 'ours/Keras', 'tfjs-layers fit (before)', 'fused/layers'],
      rows,
    ),
  );
  return out;
}
