import type { LayersModel, Rank, Scalar, Tensor, Tensor2D, Tensor3D } from '@tensorflow/tfjs-node';
import type { Logger } from '../log';
import { yieldToLoop } from '../loop';
import type { ModelForward } from '../model/forward';
import { tf } from '../model/tf';
import { mulberry32 } from '../random';
import { prAuc } from './evaluate';
import { BestEpoch, fitResult, labelsOf, lossWeights, meanBce, scoreForward } from './fit-common';
import type { Tensors, Trained, TrainingSets, TrainOptions } from './fit-common';

/** Shuffles and dropout seeds repeat for a given PDM_TRAIN_SEED (seed 0 draws as seed 1). */
const rng = (seed: number) => mulberry32(seed >>> 0 || 1);

/**
 * The native backend's path: every LSTM as a fused TensorFlow kernel with its fused gradient
 * (src/model/fused-lstm.ts), Adam steps in a loop of our own, early stopping on validation PR-AUC.
 */
export async function fitFused(
  model: LayersModel,
  forward: ModelForward,
  sets: TrainingSets,
  opts: TrainOptions,
  logger: Logger,
): Promise<Trained> {
  const { tr, va } = sets;
  const { n, labels, weights, valLabels, valWeights } = labelsOf(sets, opts.weightedLoss);
  const sampleWeight = tf.tensor2d(lossWeights(labels, weights), [n, 1]);
  // Adam as the layers path's 'adam': learning rate 1e-3, betas .9/.999, epsilon 1e-7.
  const optimizer = tf.train.adam(0.001, 0.9, 0.999, 1e-7);
  const best = new BestEpoch(model, opts.patience);
  const random = rng(opts.seed);
  const started = Date.now();
  const epochSeconds: number[] = [];
  const dropout = forward.sensorDropout[0]?.dropout ?? 0;
  try {
    for (let epoch = 1; epoch <= opts.epochs; epoch++) {
      const epochStart = Date.now();
      const order = Int32Array.from({ length: n }, (_, i) => i);
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      let lossSum = 0;
      for (let from = 0; from < n; from += opts.batchSize) {
        const rows = order.subarray(from, Math.min(n, from + opts.batchSize));
        const loss = trainStep(forward, optimizer, tr, sampleWeight, rows, Math.floor(random() * 2 ** 31));
        lossSum += loss * rows.length;
        opts.onProgress?.({
          epoch,
          epochs: opts.epochs,
          done: from + rows.length,
          total: n,
          seconds: (Date.now() - started) / 1000,
        });
        await yieldToLoop(); // the lock renewal and the parent's pipes run between batches
      }
      epochSeconds.push((Date.now() - epochStart) / 1000);
      const valScores = scoreForward(forward, va);
      const valLoss = meanBce(valLabels, valScores, valWeights);
      const valPrAuc = prAuc(valLabels, valScores, valWeights);
      opts.onEpoch?.({
        epoch,
        loss: lossSum / n,
        valLoss,
        valPrAuc,
        seconds: epochSeconds[epochSeconds.length - 1]!,
      });
      if (best.offer(epoch, valPrAuc, valLoss)) break;
    }
    return fitResult(best.restore(logger), n, epochSeconds, { path: 'fused', dropout, recurrentDropout: 0 });
  } finally {
    best.dispose();
    optimizer.dispose();
    sampleWeight.dispose();
  }
}

/** One Adam step on the given rows; returns the batch's weighted loss. */
function trainStep(
  forward: ModelForward,
  optimizer: ReturnType<typeof tf.train.adam>,
  tr: Tensors,
  sampleWeight: Tensor,
  rows: Int32Array,
  seed: number,
): number {
  let stats: [Tensor, Tensor] | undefined;
  const loss = tf.tidy(() => {
    const idx = tf.tensor1d(rows, 'int32');
    const numeric = tf.gather(tr.numeric, idx) as Tensor3D;
    const tokens = tf.gather(tr.tokens, idx) as Tensor2D;
    const y = tf.gather(tr.labels, idx);
    const w = tf.gather(sampleWeight, idx);
    const masks = forward.sensorDropout.map((d, i) =>
      d.dropout > 0
        ? tf.div<Tensor2D>(
            tf.cast(
              tf.greaterEqual(
                tf.randomUniform([rows.length, d.inputSize], 0, 1, 'float32', seed + i),
                d.dropout,
              ),
              'float32',
            ),
            1 - d.dropout,
          )
        : tf.ones<Rank.R2>([rows.length, d.inputSize]),
    );
    const cost = optimizer.minimize(
      () => {
        const pass = forward.train(numeric, tokens, masks);
        stats = [tf.keep(pass.batchMean), tf.keep(pass.batchVariance)];
        // Binary cross-entropy from logits (stable for large |z|), weighted per sample, averaged over the batch.
        const z = pass.logits;
        const perSample = tf.add(tf.sub(tf.relu(z), tf.mul(z, y)), tf.log1p(tf.exp(tf.neg(tf.abs(z)))));
        return tf.mean<Scalar>(tf.mul(perSample, w));
      },
      true,
      [...forward.trainable],
    );
    return cost!.dataSync()[0]!;
  });
  if (stats) {
    forward.updateBatchNorm(...stats);
    tf.dispose(stats);
  }
  return loss;
}
