import type { Tensor } from '@tensorflow/tfjs-node';
import { buildDualInputModel } from '../src/model/build';
import { backendName, disposeModel, tf } from '../src/model/tf';
import { table } from './stats';

/**
 * Training throughput on a fixed data set: 15,000 windows of 50 × 25 plus 50 tokens (the figure),
 * native backend, batch 32, one epoch (the per-epoch cost is what a retrain multiplies). `--quick` uses
 * 1,500 windows.
 */
export async function benchTraining(quick: boolean): Promise<Record<string, unknown>> {
  const n = quick ? 1_500 : 15_000;
  const shape = { window: 50, features: 25, textMaxLen: 50, vocabSize: 1000, lstmUnits: 64, textLstmUnits: 64, embedDim: 8, denseUnits: 32 };
  const model = buildDualInputModel(shape, 'both', 3);
  const x = tf.randomNormal([n, shape.window, shape.features], 0, 1, 'float32', 5);
  const t = tf.randomUniform([n, shape.textMaxLen], 0, shape.vocabSize, 'int32', 6).toFloat();
  const y = tf.randomUniform([n, 1], 0, 1, 'float32', 7).round();
  const epochSeconds: number[] = [];
  let start = 0;
  await model.fit([x, t] as Tensor[], y, {
    epochs: 1,
    batchSize: 32,
    verbose: 0,
    callbacks: {
      onEpochBegin: async () => {
        start = performance.now();
      },
      onEpochEnd: async () => {
        epochSeconds.push((performance.now() - start) / 1000);
      },
    },
  });
  tf.dispose([x, t, y]);
  disposeModel(model);
  const seconds = epochSeconds[0] ?? NaN;
  const out = { windows: n, shape, backend: backendName(), batchSize: 32, secondsPerEpoch: seconds, samplesPerSec: n / seconds };
  console.log(table(`Training, ${n} windows of ${shape.window}×${shape.features} + ${shape.textMaxLen} tokens (${out.backend}, batch 32, one epoch)`, ['figure', 'value'], [['seconds per epoch', seconds], ['samples/s', out.samplesPerSec]]));
  return out;
}
