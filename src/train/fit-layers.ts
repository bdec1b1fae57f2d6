import type { LayersModel } from '@tensorflow/tfjs-node';
import type { Logger } from '../log';
import { prAuc } from './evaluate';
import { BestEpoch, classWeights, fitResult, labelsOf, predict } from './fit-common';
import type { Trained, TrainingSets, TrainOptions } from './fit-common';

let warnedWeights = false;

/**
 * tfjs-layers' model.fit: the path where the fused kernels cannot run. Its fit takes class weights but no
 * per-sample weights ("not supported yet"), so importance weights shape the class weights and the
 * validation PR-AUC here, not each window's loss (logged once).
 */
export async function fitLayers(
  model: LayersModel,
  sets: TrainingSets,
  opts: TrainOptions,
  logger: Logger,
): Promise<Trained> {
  const { tr, va } = sets;
  const { n, labels, weights, valLabels, valWeights } = labelsOf(sets, opts.weightedLoss);
  if (!warnedWeights && weights.some((w) => w !== 1)) {
    warnedWeights = true;
    logger.warn(
      'tfjs-layers model.fit cannot weigh windows one by one: importance weights apply to the class weights and validation only',
    );
  }
  const best = new BestEpoch(model, opts.patience);
  const epochSeconds: number[] = [];
  let epochStart = Date.now();
  const started = Date.now();
  const sensorLstm = model.layers.find((l) => l.name === 'sensor_lstm')?.getConfig() as
    { dropout?: number; recurrentDropout?: number } | undefined;
  try {
    await model.fit([tr.numeric, tr.tokens], tr.labels, {
      epochs: opts.epochs,
      batchSize: opts.batchSize,
      shuffle: true,
      classWeight: classWeights(labels, weights),
      validationData: [[va.numeric, va.tokens], va.labels],
      verbose: 0,
      callbacks: {
        onEpochBegin: async () => {
          epochStart = Date.now();
        },
        onBatchEnd: async (batch) => {
          const epoch = epochSeconds.length + 1;
          opts.onProgress?.({
            epoch,
            epochs: opts.epochs,
            done: Math.min(n, (batch + 1) * opts.batchSize),
            total: n,
            seconds: (Date.now() - started) / 1000,
          });
        },
        onEpochEnd: async (epoch, logs) => {
          epochSeconds.push((Date.now() - epochStart) / 1000);
          const valLoss = Number(logs?.val_loss ?? Infinity);
          const valPrAuc = prAuc(valLabels, predict(model, va), valWeights);
          opts.onEpoch?.({
            epoch: epoch + 1,
            loss: Number(logs?.loss),
            valLoss,
            valPrAuc,
            seconds: epochSeconds[epochSeconds.length - 1]!,
          });
          if (best.offer(epoch + 1, valPrAuc, valLoss)) model.stopTraining = true;
        },
      },
    });
    return fitResult(best.restore(logger), n, epochSeconds, {
      path: 'layers',
      dropout: sensorLstm?.dropout ?? 0,
      recurrentDropout: sensorLstm?.recurrentDropout ?? 0,
    });
  } finally {
    best.dispose();
  }
}
