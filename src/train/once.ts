import type Redis from 'ioredis';
import { createRedis } from '../redis/client';
import type { Config } from '../config';
import type { Logger } from '../log';
import type { Branches } from '../model/build';
import { backendName, disposeModel } from '../model/tf';
import { ModelRefusedError, ModelRegistry } from '../registry';
import type { LoadedModel } from '../registry';
import type { FeatureSpec } from '../score';
import type { LayersModel } from '@tensorflow/tfjs-node';
import { KerasTokenizer } from '../tokenize';
import type { DatasetSummary, RawWindow } from './dataset';
import { buildWindows, splitByTime } from './dataset';
import { atThreshold, bestF1Threshold, prAuc, rocAuc } from './evaluate';
import { boundTrainingSet } from './budget';
import type { TrainingBound } from './budget';
import { fitModel, fitScaler, predict, toTensors } from './fit';
import type { FitProgress, TrainingRecord } from './fit';
import { RedisLock } from './lock';
import { readTopicsToEnd } from './source';
import { SampleStore } from './samples';
import type { TopicSnapshot } from './source';

export class TrainingError extends Error {
  readonly retriable = false;
  constructor(
    readonly code: 'too_few_positives' | 'no_data' | 'locked' | 'no_validation_positives',
    message: string,
  ) {
    super(message);
  }
}

export interface TrainSummary {
  version: string;
  promoted: boolean;
  reason: string;
  previous: string | null;
  threshold: number;
  metrics: Record<string, number | null>;
  comparedWith: { version: string; prAuc: number | null } | null;
  data: DatasetSummary & { split: Record<string, { windows: number; positives: number }>; invalidRecords: Record<string, number> };
  training: { epochs: number; epochsRun: number; samplesPerSecond: number; secondsPerEpoch: number; seconds: number; backend: string; branches: Branches; windows: TrainingBound } & TrainingRecord;
}

const labelsOf = (ws: readonly RawWindow[]) => Float32Array.from(ws, (w) => w.label);
const positivesOf = (ws: readonly RawWindow[]) => ws.filter((w) => w.label === 1).length;

/** Scores raw windows through a model's own pipeline (its scaler and vocabulary). */
function scoreWith(model: LayersModel, spec: FeatureSpec, windows: readonly RawWindow[]): Float32Array {
  const t = toTensors(windows, spec);
  try {
    return predict(model, t);
  } finally {
    t.dispose();
  }
}

/**
 * One training round (`pdm train --once`): read the topics up to their current ends, build labelled
 * windows, split by time, fit scaler + tokenizer on the training split only, train, choose the threshold
 * on validation, evaluate on the later holdout, register, and promote when the new model is at least as
 * good as the serving one on the same holdout.
 */
export async function trainOnce(config: Config, logger: Logger, opts: { branches?: Branches; promote?: boolean; snapshot?: TopicSnapshot; onProgress?: (p: FitProgress) => void } = {}): Promise<TrainSummary> {
  const started = Date.now();
  const branches = opts.branches ?? 'both';
  const redis = createRedis(config, { commandTimeout: 30_000 });
  const lock = new RedisLock(redis, `${config.redis.prefix}train:lock`);
  try {
    if (!(await lock.acquire())) throw new TrainingError('locked', `another training run holds the lock (${config.redis.prefix}train:lock, holder ${await lock.holder()}); try again when it finishes`);
    try {
      return await trainLocked(config, logger, redis, branches, opts.promote ?? true, opts.snapshot, started, opts.onProgress);
    } finally {
      await lock.release().catch(() => undefined);
    }
  } finally {
    redis.disconnect();
  }
}

async function trainLocked(config: Config, logger: Logger, redis: Redis, branches: Branches, allowPromote: boolean, given: TopicSnapshot | undefined, started: number, onProgress: ((p: FitProgress) => void) | undefined): Promise<TrainSummary> {
  const snapshot = given ?? (await readWithSampleStore(config, logger, redis));
  const spec = { window: config.model.window, horizonMs: config.horizonMs, logLookbackMs: config.logLookbackMs };
  const { windows, summary } = buildWindows(snapshot.readings, snapshot.logs, snapshot.failures, spec);
  logger.info('windows built', { ...summary.windows, failuresIgnored: summary.failuresIgnored });
  if (windows.length === 0) throw new TrainingError('no_data', `no labelled windows: ${summary.readings} readings in ${config.topics.readings}, window ${spec.window}`);
  const split = splitByTime(windows, config.horizonMs);
  const trainPositives = positivesOf(split.train);
  if (trainPositives < config.training.minPositives) {
    throw new TrainingError('too_few_positives', `too few positive windows to train: ${trainPositives} in the training split, PDM_TRAIN_MIN_POSITIVES=${config.training.minPositives} (failures seen: ${summary.failures}); the current model is untouched`);
  }
  if (positivesOf(split.validation) === 0) throw new TrainingError('no_validation_positives', 'the validation period holds no failure, so no threshold can be chosen; wait for more labelled failures');
  const sensors = [...new Set(split.train.flatMap((w) => Object.keys(w.readings[w.readings.length - 1]?.values ?? {})))].sort();
  const bytesPerWindow = 4 * (config.model.window * sensors.length + config.model.textMaxLen + 1); // float32 numeric, tokens, label
  const { windows: train, bound } = boundTrainingSet(split.train, { maxBytes: config.training.maxBytes, maxWindows: config.training.maxWindows, bytesPerWindow });
  if (bound.negativesDropped > 0) logger.warn('training split bounded: negatives subsampled per machine and time', { ...bound });
  const trainTexts = snapshot.logs.filter((l) => l.ts < split.boundaries.validationFrom).map((l) => l.text);
  const tokenizer = KerasTokenizer.fit(trainTexts, { numWords: config.model.vocabSize, ...(config.oovToken ? { oovToken: config.oovToken } : {}) });
  const scaler = fitScaler(train, sensors);
  logger.info('training', { train: train.length, trainPositives: positivesOf(train), validation: split.validation.length, holdout: split.holdout.length, sensors, vocabulary: tokenizer.wordIndex.size, branches, backend: backendName() });
  const fitted = await fitModel(train, split.validation, {
    shape: config.model,
    sensors,
    scaler,
    tokenizer,
    epochs: config.training.epochs,
    batchSize: config.training.batchSize,
    patience: config.training.patience,
    seed: config.training.seed,
    branches,
    onEpoch: (e) => logger.info('epoch', e),
    ...(onProgress ? { onProgress } : {}),
  }, logger);
  const featureSpec: FeatureSpec = { sensors, scaler, window: config.model.window, textMaxLen: config.model.textMaxLen, tokenizer };
  try {
    const valScores = scoreWith(fitted.model, featureSpec, split.validation);
    const threshold = config.training.threshold ?? bestF1Threshold(labelsOf(split.validation), valScores).threshold;
    const holdoutLabels = labelsOf(split.holdout);
    const holdoutScores = scoreWith(fitted.model, featureSpec, split.holdout);
    const at = atThreshold(holdoutLabels, holdoutScores, threshold);
    const metrics = {
      roc_auc: rocAuc(holdoutLabels, holdoutScores),
      pr_auc: prAuc(holdoutLabels, holdoutScores),
      precision: at.precision,
      recall: at.recall,
      f1: at.f1,
      val_pr_auc: prAuc(labelsOf(split.validation), valScores),
      holdout_positives: positivesOf(split.holdout),
      holdout_windows: split.holdout.length,
    };
    const registry = new ModelRegistry(redis, config.redis.prefix);
    const data = {
      ...summary,
      invalidRecords: snapshot.invalid,
      split: {
        train: { windows: train.length, positives: positivesOf(train) },
        validation: { windows: split.validation.length, positives: positivesOf(split.validation) },
        holdout: { windows: split.holdout.length, positives: positivesOf(split.holdout) },
      },
    };
    const meta = await registry.register(fitted.model, tokenizer, {
      window: config.model.window,
      textMaxLen: config.model.textMaxLen,
      vocabSize: config.model.vocabSize,
      sensors,
      scaler,
      threshold: Math.min(0.999, Math.max(0.001, threshold)),
      metrics: Object.fromEntries(Object.entries(metrics).filter((e): e is [string, number] => e[1] !== null)),
      dataSummary: data,
      branches,
      training: fitted.record,
    });
    const decision = await decidePromotion(registry, split.holdout, metrics.pr_auc, config, logger);
    let promoted = false;
    if (allowPromote && decision.promote) {
      await registry.promote(meta.version, { window: config.model.window, textMaxLen: config.model.textMaxLen });
      promoted = true;
    }
    return {
      version: meta.version,
      promoted,
      reason: allowPromote ? decision.reason : 'promotion disabled for this run',
      previous: decision.previous,
      threshold: meta.threshold,
      metrics,
      comparedWith: decision.compared,
      data,
      training: {
        epochs: fitted.epochs,
        epochsRun: fitted.epochsRun,
        samplesPerSecond: Math.round(fitted.samplesPerSecond * 10) / 10,
        secondsPerEpoch: Math.round(fitted.secondsPerEpoch * 10) / 10,
        seconds: Math.round((Date.now() - started) / 100) / 10,
        backend: backendName(),
        branches,
        ...fitted.record,
        windows: bound,
      },
    };
  } finally {
    disposeModel(fitted.model);
  }
}

/** Reads only what arrived since the last run and merges it into the bounded sample store. */
async function readWithSampleStore(config: Config, logger: Logger, redis: Redis): Promise<TopicSnapshot> {
  const store = new SampleStore(redis, `${config.redis.prefix}train:samples:${config.topics.readings}`, config.training.sampleRetentionMs);
  const stored = await store.load();
  const fresh = await readTopicsToEnd(config, logger, stored?.offsets);
  const merged = await store.save(stored?.snapshot, fresh, fresh.next);
  logger.info('sample store', { stored: stored?.snapshot.readings.length ?? 0, fresh: fresh.readings.length, kept: merged.readings.length, retentionMs: config.training.sampleRetentionMs });
  return merged;
}

/** The promotion gate: beat (or tie) the serving model's PR-AUC on the same holdout windows. */
async function decidePromotion(registry: ModelRegistry, holdout: readonly RawWindow[], newPrAuc: number | null, config: Config, logger: Logger): Promise<{ promote: boolean; reason: string; previous: string | null; compared: { version: string; prAuc: number | null } | null }> {
  const current = await registry.currentVersion();
  if (!current) return { promote: true, reason: 'no model was serving', previous: null, compared: null };
  let loaded: LoadedModel;
  try {
    loaded = await registry.load(current, { window: config.model.window, textMaxLen: config.model.textMaxLen });
  } catch (error) {
    if (!(error instanceof ModelRefusedError)) throw error;
    logger.warn('serving model cannot be evaluated; promoting the new one', { current, error: error.message });
    return { promote: true, reason: `serving model ${current} unusable: ${error.message}`, previous: current, compared: null };
  }
  try {
    const currentPrAuc = prAuc(labelsOf(holdout), scoreWith(loaded.model, { ...loaded.meta, tokenizer: loaded.tokenizer }, holdout));
    const compared = { version: current, prAuc: currentPrAuc };
    if (newPrAuc === null) return { promote: false, reason: 'holdout has no positives: cannot compare', previous: current, compared };
    if (currentPrAuc !== null && newPrAuc < currentPrAuc) {
      return { promote: false, reason: `holdout PR-AUC ${newPrAuc.toFixed(4)} < serving ${current} ${currentPrAuc.toFixed(4)}`, previous: current, compared };
    }
    return { promote: true, reason: `holdout PR-AUC ${newPrAuc.toFixed(4)} >= serving ${current} ${currentPrAuc?.toFixed(4) ?? 'n/a'}`, previous: current, compared };
  } finally {
    disposeModel(loaded.model);
  }
}
