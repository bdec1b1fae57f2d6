import { TrainingError } from '../errors';
import { openRedis } from '../redis/client';
import type { RedisClient } from '../redis/client';
import { keyLayout } from '../redis/keys';
import type { Config } from '../config';
import type { Logger } from '../log';
import type { Branches } from '../model/build';
import { backendName, disposeModel } from '../model/tf';
import { ModelRefusedError, ModelRegistry, PromotionFencedError } from '../registry';
import type { Fence, LoadedModel } from '../registry';
import type { FeatureSpec } from '../score';
import type { LayersModel } from '@tensorflow/tfjs-node';
import { KerasTokenizer } from '../tokenize';
import { AGE_CAP_MS, channelCount, formatExtraFeatures } from '../features';
import type { ExtraFeatures } from '../features';
import type { DatasetSummary, RawWindow } from './dataset';
import { buildWindows, splitByTime, weightsOf } from './dataset';
import type { Split } from './dataset';
import { leadTimes, prAuc, rocAuc } from './evaluate';
import type { AtThreshold } from './evaluate';
import type { Calibration, ReliabilityBin } from './calibrate';
import { operatingPoint } from './operating-point';
import { baseSearchConfig, searchCandidates } from './search';
import type { SearchConfig, SearchTrial } from './search';
import { THRESHOLD_MAX, THRESHOLD_MIN } from './threshold';
import { boundTrainingSet } from './budget';
import type { TrainingBound } from './budget';
import { fitModel, fitScaler, predict, toTensors } from './fit';
import type { FitProgress, FitResult, Scaler, TrainingRecord } from './fit';
import { RedisLock } from './lock';
import { readWithTrainStore } from './store';
import type { StoreReport } from './store';
import type { TopicSnapshot } from './source';

export { TrainingError };

export interface TrainSummary {
  version: string;
  promoted: boolean;
  reason: string;
  previous: string | null;
  threshold: number;
  /** The policy that chose the threshold, and the figures at it on validation and on the later holdout. */
  thresholdPolicy: string;
  operatingPoint: { validation: AtThreshold; holdout: AtThreshold };
  /** A policy the validation split could not satisfy, and anything else the user should read. */
  warnings: string[];
  calibration: {
    fitted: Calibration | null;
    brierHoldout: { raw: number | null; served: number | null };
    reliabilityHoldout: ReliabilityBin[];
  };
  metrics: Record<string, number | null>;
  comparedWith: { version: string; prAuc: number | null } | null;
  data: DatasetSummary & {
    split: Record<string, { windows: number; positives: number }>;
    invalidRecords: Record<string, number>;
  };
  /** Every configuration tried by `--search N`, the chosen one marked. */
  search?: SearchTrial[];
  /** What the bounded sample store holds after this round (absent when trained from a given snapshot). */
  store?: StoreReport;
  training: {
    epochs: number;
    epochsRun: number;
    samplesPerSecond: number;
    secondsPerEpoch: number;
    seconds: number;
    backend: string;
    branches: Branches;
    /** PDM_EXTRA_FEATURES as trained (`none` without extra channels). */
    extraFeatures: string;
    windows: TrainingBound;
  } & TrainingRecord;
}

export const labelsOf = (ws: readonly RawWindow[]) => Float32Array.from(ws, (w) => w.label);
const positivesOf = (ws: readonly RawWindow[]) => ws.filter((w) => w.label === 1).length;

/** Scores raw windows through a model's own pipeline (its scaler and vocabulary). */
export function scoreWith(
  model: LayersModel,
  spec: FeatureSpec,
  windows: readonly RawWindow[],
): Float32Array {
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
export async function trainOnce(
  config: Config,
  logger: Logger,
  opts: {
    branches?: Branches;
    promote?: boolean;
    snapshot?: TopicSnapshot;
    search?: number;
    onProgress?: (p: FitProgress) => void;
  } = {},
): Promise<TrainSummary> {
  const started = Date.now();
  const branches = opts.branches ?? 'both';
  const redis = openRedis(config, { commandTimeout: 30_000 });
  const lockKey = keyLayout(redis, config.redis.prefix).trainLock();
  const lock = new RedisLock(redis, lockKey, 60_000, (reason) =>
    logger.warn('training lock lost: this run will not promote', { reason }),
  );
  try {
    if (!(await lock.acquire()))
      throw new TrainingError(
        'locked',
        `another training run holds the lock (${lockKey}, holder ${await lock.holder()}); try again when it finishes`,
      );
    try {
      return await trainLocked(
        config,
        logger,
        redis,
        {
          branches,
          allowPromote: opts.promote ?? true,
          search: opts.search ?? 1,
          fence: lock.fence(),
          ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
        },
        opts.snapshot,
        started,
      );
    } finally {
      await lock.release().catch(() => undefined);
    }
  } finally {
    redis.disconnect();
  }
}

export interface PreparedTraining {
  readonly split: Split;
  /** The training split after the byte bound (every window unless PDM_TRAIN_MAX_BYTES / _MAX_WINDOWS bind). */
  readonly train: RawWindow[];
  readonly bound: TrainingBound;
  readonly sensors: string[];
  readonly tokenizer: KerasTokenizer;
  readonly scaler: Scaler;
  readonly featureSpec: FeatureSpec;
  /** The extra channels this run trains with (PDM_EXTRA_FEATURES and its caps), or undefined for none. */
  readonly extraFeatures: ExtraFeatures | undefined;
  readonly summary: DatasetSummary;
}

/**
 * From a topic snapshot to what a fit needs: labelled windows, the time split, the bounded training set,
 * and the scaler and tokenizer fitted on the training split only. Throws TrainingError when the data
 * cannot give a model worth registering.
 */
export function prepareTraining(
  snapshot: TopicSnapshot,
  config: Config,
  logger: Logger,
  built?: { windows: RawWindow[]; summary: DatasetSummary },
): PreparedTraining {
  const spec = {
    window: config.model.window,
    horizonMs: config.horizonMs,
    logLookbackMs: config.logLookbackMs,
  };
  // Windows come from the bounded sample store, or are built here from a snapshot of raw records.
  const { windows, summary } =
    built ?? buildWindows(snapshot.readings, snapshot.logs, snapshot.failures, spec);
  logger.info('windows built', { ...summary.windows, failuresIgnored: summary.failuresIgnored });
  if (windows.length === 0)
    throw new TrainingError(
      'no_data',
      `no labelled windows: ${summary.readings} readings in ${config.topics.readings}, window ${spec.window}`,
    );
  const split = splitByTime(windows, config.horizonMs);
  const trainPositives = positivesOf(split.train);
  if (trainPositives < config.training.minPositives) {
    throw new TrainingError(
      'too_few_positives',
      `too few positive windows to train: ${trainPositives} in the training split, PDM_TRAIN_MIN_POSITIVES=${config.training.minPositives} (failures seen: ${summary.failures}); the current model is untouched`,
    );
  }
  if (positivesOf(split.validation) === 0)
    throw new TrainingError(
      'no_validation_positives',
      'the validation period holds no failure, so no threshold can be chosen; wait for more labelled failures',
    );
  const sensors = [
    ...new Set(split.train.flatMap((w) => Object.keys(w.readings[w.readings.length - 1]?.values ?? {}))),
  ].sort();
  const extraFeatures = extraFeaturesFor(config);
  const channels = channelCount(sensors.length, extraFeatures);
  const bytesPerWindow = 4 * (config.model.window * channels + config.model.textMaxLen + 1); // float32 numeric, tokens, label
  const { windows: train, bound } = boundTrainingSet(split.train, {
    maxBytes: config.training.maxBytes,
    maxWindows: config.training.maxWindows,
    bytesPerWindow,
  });
  if (bound.negativesDropped > 0)
    logger.warn('training split bounded: negatives subsampled per machine and time', { ...bound });
  const trainTexts = snapshot.logs.filter((l) => l.ts < split.boundaries.validationFrom).map((l) => l.text);
  const tokenizer = KerasTokenizer.fit(trainTexts, {
    numWords: config.model.vocabSize,
    ...(config.oovToken ? { oovToken: config.oovToken } : {}),
  });
  const scaler = fitScaler(train, sensors);
  const featureSpec: FeatureSpec = {
    sensors,
    scaler,
    window: config.model.window,
    textMaxLen: config.model.textMaxLen,
    tokenizer,
    extraFeatures,
  };
  return { split, train, bound, sensors, tokenizer, scaler, featureSpec, extraFeatures, summary };
}

/** The configured extra channels with the caps this run fixes: the log lookback, the age cap. */
function extraFeaturesFor(config: Config): ExtraFeatures | undefined {
  const { channels, deltaLag } = config.training.extraFeatures;
  if (channels.length === 0) return undefined;
  return { channels, deltaLag, ageCapMs: AGE_CAP_MS, logAgeCapMs: config.logLookbackMs };
}

interface RunOptions {
  readonly branches: Branches;
  readonly allowPromote: boolean;
  readonly search: number;
  /** The training lock: promotion is a fenced write, refused once another run holds the lock. */
  readonly fence: Fence;
  readonly onProgress?: (p: FitProgress) => void;
}

async function trainLocked(
  config: Config,
  logger: Logger,
  redis: RedisClient,
  run: RunOptions,
  given: TopicSnapshot | undefined,
  started: number,
): Promise<TrainSummary> {
  const { branches, allowPromote } = run;
  const stored = given ? undefined : await readWithTrainStore(config, logger, redis);
  const snapshot = stored?.snapshot ?? given!;
  const { split, train, bound, sensors, tokenizer, scaler, featureSpec, extraFeatures, summary } =
    prepareTraining(snapshot, config, logger, stored?.built);
  logger.info('training', {
    train: train.length,
    trainPositives: positivesOf(train),
    validation: split.validation.length,
    holdout: split.holdout.length,
    sensors,
    extraFeatures: formatExtraFeatures(extraFeatures),
    vocabulary: tokenizer.wordIndex.size,
    branches,
    backend: backendName(),
  });
  const valLabels = labelsOf(split.validation);
  // Windows from the store's reservoir stand for the ones it gave up: figures count them that many times.
  const valWeights = weightsOf(split.validation);
  const searched = await searchModels(
    searchCandidates(
      baseSearchConfig(config.model, config.training.epochs),
      run.search,
      config.training.seed,
    ),
    config.training.searchBudgetMs,
    logger,
    async (candidate) => {
      const fitted = await fitModel(
        train,
        split.validation,
        {
          shape: {
            ...config.model,
            lstmLayers: candidate.lstmLayers,
            lstmUnits: candidate.lstmUnits,
            textLstmUnits: candidate.textLstmUnits,
            denseUnits: candidate.denseUnits,
          },
          sensors,
          scaler,
          tokenizer,
          extraFeatures,
          epochs: candidate.epochs,
          batchSize: config.training.batchSize,
          patience: config.training.patience,
          seed: config.training.seed,
          weightedLoss: config.training.store.weightedLoss,
          branches,
          onEpoch: (e) => logger.info('epoch', e),
          ...(run.onProgress ? { onProgress: run.onProgress } : {}),
        },
        logger,
      );
      const valRaw = scoreWith(fitted.model, featureSpec, split.validation);
      return { ...fitted, valRaw, valPrAuc: prAuc(valLabels, valRaw, valWeights) };
    },
  );
  const fitted = searched.best;
  try {
    const holdoutLabels = labelsOf(split.holdout);
    const holdoutWeights = weightsOf(split.holdout);
    const holdoutRaw = scoreWith(fitted.model, featureSpec, split.holdout);
    const op = operatingPoint(
      config.training.thresholdPolicy,
      config.training.calibration,
      { labels: valLabels, raw: fitted.valRaw, ...(valWeights ? { weights: valWeights } : {}) },
      { labels: holdoutLabels, raw: holdoutRaw, ...(holdoutWeights ? { weights: holdoutWeights } : {}) },
    );
    if (op.warning)
      logger.warn('threshold policy not met on validation', { policy: op.policy, warning: op.warning });
    const lead = leadTimes(
      split.holdout,
      op.holdoutScores,
      snapshot.failures,
      op.threshold,
      config.horizonMs,
    );
    const metrics = {
      roc_auc: rocAuc(holdoutLabels, holdoutRaw, holdoutWeights),
      pr_auc: prAuc(holdoutLabels, holdoutRaw, holdoutWeights),
      precision: op.holdout.precision,
      recall: op.holdout.recall,
      f1: op.holdout.f1,
      brier: op.brier.served,
      val_pr_auc: fitted.valPrAuc,
      val_precision: op.validation.precision,
      val_recall: op.validation.recall,
      val_f1: op.validation.f1,
      lead_time_hours_median: lead.medianHours,
      failures_detected: lead.detected,
      holdout_failures: lead.failures,
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
    const chosen = searched.trials.find((t) => t.chosen)?.config;
    const meta = await registry.register(fitted.model, tokenizer, {
      window: config.model.window,
      textMaxLen: config.model.textMaxLen,
      vocabSize: config.model.vocabSize,
      sensors,
      scaler,
      threshold: Math.min(THRESHOLD_MAX, Math.max(THRESHOLD_MIN, op.threshold)),
      thresholdPolicy: op.policy,
      ...(op.calibration ? { calibration: op.calibration } : {}),
      operatingPoint: {
        validation: op.validation,
        holdout: op.holdout,
        ...(op.warning ? { warning: op.warning } : {}),
      },
      metrics: Object.fromEntries(
        Object.entries(metrics).filter((e): e is [string, number] => e[1] !== null),
      ),
      dataSummary: { ...data, ...(chosen && run.search > 1 ? { searchChosen: chosen } : {}) },
      branches,
      ...(extraFeatures
        ? { extraFeatures: { ...extraFeatures, channels: [...extraFeatures.channels] } }
        : {}),
      training: fitted.record,
    });
    const decision = await decidePromotion(registry, split.holdout, metrics.pr_auc, config, logger);
    let promoted = false;
    let fencedReason: string | undefined;
    if (allowPromote && decision.promote) {
      try {
        await registry.promote(
          meta.version,
          { window: config.model.window, textMaxLen: config.model.textMaxLen },
          run.fence,
        );
        promoted = true;
      } catch (error) {
        if (!(error instanceof PromotionFencedError)) throw error;
        fencedReason = `${error.message}; registered only (another training run took over)`;
        logger.warn('promotion fenced', { version: meta.version, reason: error.message });
      }
    }
    return {
      version: meta.version,
      promoted,
      reason: fencedReason ?? (allowPromote ? decision.reason : 'promotion disabled for this run'),
      previous: decision.previous,
      threshold: meta.threshold,
      thresholdPolicy: op.policy,
      operatingPoint: { validation: op.validation, holdout: op.holdout },
      warnings: op.warning ? [op.warning] : [],
      calibration: {
        fitted: op.calibration ?? null,
        brierHoldout: op.brier,
        reliabilityHoldout: op.reliability,
      },
      metrics,
      comparedWith: decision.compared,
      data,
      ...(run.search > 1 ? { search: searched.trials } : {}),
      ...(stored ? { store: stored.report } : {}),
      training: {
        epochs: fitted.epochs,
        epochsRun: fitted.epochsRun,
        samplesPerSecond: Math.round(fitted.samplesPerSecond * 10) / 10,
        secondsPerEpoch: Math.round(fitted.secondsPerEpoch * 10) / 10,
        seconds: Math.round((Date.now() - started) / 100) / 10,
        backend: backendName(),
        branches,
        extraFeatures: formatExtraFeatures(extraFeatures),
        ...fitted.record,
        windows: bound,
      },
    };
  } finally {
    disposeModel(fitted.model);
  }
}

interface Candidate extends FitResult {
  readonly valRaw: Float32Array;
  readonly valPrAuc: number | null;
}

/**
 * Trains each configuration in turn and keeps the best by validation PR-AUC (the first wins ties, so the
 * configured model stays unless another is better). The budget is checked before each start: the
 * configured model always trains, the rest only while time is left.
 */
async function searchModels(
  configs: readonly SearchConfig[],
  budgetMs: number,
  logger: Logger,
  train: (c: SearchConfig) => Promise<Candidate>,
): Promise<{ best: Candidate; trials: SearchTrial[] }> {
  const started = Date.now();
  const results: { config: SearchConfig; candidate: Candidate; seconds: number }[] = [];
  let best: Candidate | undefined;
  try {
    for (const config of configs) {
      if (best && Date.now() - started >= budgetMs) {
        logger.warn('search budget spent', { tried: results.length, of: configs.length, budgetMs });
        break;
      }
      const t0 = Date.now();
      const candidate = await train(config);
      results.push({ config, candidate, seconds: Math.round((Date.now() - t0) / 100) / 10 });
      logger.info('search trial', { ...config, valPrAuc: candidate.valPrAuc });
      if (!best || (candidate.valPrAuc ?? -1) > (best.valPrAuc ?? -1)) {
        if (best) disposeModel(best.model);
        best = candidate;
      } else {
        disposeModel(candidate.model);
      }
    }
  } catch (error) {
    if (best) disposeModel(best.model);
    throw error;
  }
  const winner = best!;
  return {
    best: winner,
    trials: results.map((r) => ({
      config: r.config,
      valPrAuc: r.candidate.valPrAuc,
      epochsRun: r.candidate.epochsRun,
      bestEpoch: r.candidate.epochs,
      seconds: r.seconds,
      chosen: r.candidate === winner,
    })),
  };
}

/** The promotion gate: beat (or tie) the serving model's PR-AUC on the same holdout windows. */
async function decidePromotion(
  registry: ModelRegistry,
  holdout: readonly RawWindow[],
  newPrAuc: number | null,
  config: Config,
  logger: Logger,
): Promise<{
  promote: boolean;
  reason: string;
  previous: string | null;
  compared: { version: string; prAuc: number | null } | null;
}> {
  const current = await registry.currentVersion();
  if (!current) return { promote: true, reason: 'no model was serving', previous: null, compared: null };
  let loaded: LoadedModel;
  try {
    loaded = await registry.load(current, {
      window: config.model.window,
      textMaxLen: config.model.textMaxLen,
    });
  } catch (error) {
    if (!(error instanceof ModelRefusedError)) throw error;
    logger.warn('serving model cannot be evaluated; promoting the new one', {
      current,
      error: error.message,
    });
    return {
      promote: true,
      reason: `serving model ${current} unusable: ${error.message}`,
      previous: current,
      compared: null,
    };
  }
  try {
    const currentPrAuc = prAuc(
      labelsOf(holdout),
      scoreWith(loaded.model, { ...loaded.meta, tokenizer: loaded.tokenizer }, holdout),
      weightsOf(holdout),
    );
    const compared = { version: current, prAuc: currentPrAuc };
    if (newPrAuc === null)
      return {
        promote: false,
        reason: 'holdout has no positives: cannot compare',
        previous: current,
        compared,
      };
    if (currentPrAuc !== null && newPrAuc < currentPrAuc) {
      return {
        promote: false,
        reason: `holdout PR-AUC ${newPrAuc.toFixed(4)} < serving ${current} ${currentPrAuc.toFixed(4)}`,
        previous: current,
        compared,
      };
    }
    return {
      promote: true,
      reason: `holdout PR-AUC ${newPrAuc.toFixed(4)} >= serving ${current} ${currentPrAuc?.toFixed(4) ?? 'n/a'}`,
      previous: current,
      compared,
    };
  } finally {
    disposeModel(loaded.model);
  }
}
