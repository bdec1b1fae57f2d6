import type { LayersModel, Tensor, Tensor2D, Tensor3D } from '@tensorflow/tfjs-node';
import { buildDualInputModel } from '../src/model/build';
import { disposeModel, tf } from '../src/model/tf';
import { compileInference } from '../src/score/fast';
import { repeat, table } from './stats';

/** The docs/model.md model at T=30, F=8, L=50, V=1000 on one backend: training samples/s, scoring windows/s. */
export const SHAPE = { window: 30, features: 8, textMaxLen: 50, vocabSize: 1000, lstmUnits: 64, textLstmUnits: 64, embedDim: 8, denseUnits: 32 };

function inputs(n: number): [Tensor, Tensor] {
  return [tf.randomNormal([n, SHAPE.window, SHAPE.features], 0, 1, 'float32', 1), tf.randomUniform([n, SHAPE.textMaxLen], 0, SHAPE.vocabSize, 'int32', 2).toFloat()];
}

async function trainRate(model: LayersModel, samples: number): Promise<number> {
  const [x, t] = inputs(samples);
  const y = tf.randomUniform([samples, 1], 0, 1, 'float32', 3).round();
  const start = performance.now();
  await model.fit([x, t], y, { epochs: 1, batchSize: 32, verbose: 0 });
  const rate = samples / ((performance.now() - start) / 1000);
  tf.dispose([x, t, y]);
  return rate;
}

function scoreRate(model: LayersModel, batch: number, minSeconds: number): number {
  const [x, t] = inputs(batch);
  tf.tidy(() => (model.predict([x, t]) as Tensor).dataSync()); // warm-up
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < minSeconds * 1000) {
    tf.tidy(() => (model.predict([x, t]) as Tensor).dataSync());
    n += batch;
  }
  const rate = n / ((performance.now() - start) / 1000);
  tf.dispose([x, t]);
  return rate;
}

/** The worker's scoring path: the kernel-lean inference pass (no text-encoding cache: every row encoded). */
function fastScoreRate(model: LayersModel, batch: number, minSeconds: number): number {
  const fast = compileInference(model);
  if (!fast) throw new Error('inference pass does not apply to this model');
  const [x, t] = inputs(batch);
  const once = () => tf.tidy(() => fast.head(x as Tensor3D, fast.encodeText(t as Tensor2D)).dataSync());
  once();
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < minSeconds * 1000) {
    once();
    n += batch;
  }
  tf.dispose([x, t]);
  return n / ((performance.now() - start) / 1000);
}

export interface BackendFigures {
  backend: string;
  trainSamplesPerSec: number;
  scorePerSec: Record<string, number>;
}

export async function benchBackend(backend: 'tensorflow' | 'cpu', opts: { trainSamples: number; reps: number; scoreSeconds: number }): Promise<BackendFigures> {
  await tf.setBackend(backend);
  const model = buildDualInputModel(SHAPE, 'both', 7);
  await trainRate(model, 32); // warm-up: first fit compiles the graph
  const train = await repeat(opts.reps, () => trainRate(model, opts.trainSamples));
  const scorePerSec: Record<string, number> = {};
  for (const batch of [1, 32, 256]) scorePerSec[`b${batch}`] = (await repeat(opts.reps, () => scoreRate(model, batch, opts.scoreSeconds))).median;
  if (backend === 'tensorflow') {
    for (const batch of [1, 32, 256]) scorePerSec[`fast_b${batch}`] = (await repeat(opts.reps, () => fastScoreRate(model, batch, opts.scoreSeconds))).median;
  }
  disposeModel(model);
  return { backend, trainSamplesPerSec: train.median, scorePerSec };
}

export async function benchModel(quick: boolean): Promise<Record<string, unknown>> {
  const native = await benchBackend('tensorflow', { trainSamples: quick ? 128 : 512, reps: quick ? 1 : 3, scoreSeconds: quick ? 1 : 2 });
  // The pure-JS backend is ~10x-50x slower: fewer samples, same measurement.
  const js = await benchBackend('cpu', { trainSamples: quick ? 32 : 64, reps: quick ? 1 : 3, scoreSeconds: quick ? 1 : 2 });
  await tf.setBackend('tensorflow');
  const rows = [native, js].map((f) => [f.backend, f.trainSamplesPerSec, f.scorePerSec.b1!, f.scorePerSec.b32!, f.scorePerSec.b256!]);
  const ratio = (k: 'b1' | 'b32' | 'b256') => native.scorePerSec[k]! / js.scorePerSec[k]!;
  rows.push(['native/js', native.trainSamplesPerSec / js.trainSamplesPerSec, ratio('b1'), ratio('b32'), ratio('b256')]);
  const f = native.scorePerSec;
  rows.push(['native, inference pass', '-', f.fast_b1!, f.fast_b32!, f.fast_b256!]);
  console.log(table(`Dual-input model T=${SHAPE.window} F=${SHAPE.features} L=${SHAPE.textMaxLen} (medians)`, ['backend', 'train samples/s', 'score/s b1', 'score/s b32', 'score/s b256'], rows));
  return { shape: SHAPE, native, js, ratio: { train: native.trainSamplesPerSec / js.trainSamplesPerSec, b1: ratio('b1'), b32: ratio('b32'), b256: ratio('b256') } };
}
