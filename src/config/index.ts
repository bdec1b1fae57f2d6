import { z } from 'zod';
import { ConfigError } from '../errors';
import { parseDuration } from './duration';
import { redactUrlPassword } from '../log/redact';
import { parseThresholdPolicy } from '../train/threshold';
import type { ThresholdPolicy } from '../train/threshold';
import { checkExtraFeatures, extraFeaturesSchema } from './features';
import type { ExtraFeatureChoice } from '../features';
import { trainStoreConfig, trainStoreEnv } from './train-store';
import type { TrainStoreConfig } from './train-store';

export { parseDuration } from './duration';
export { unknownVariables } from './unknown';
export type { UnknownVariable } from './unknown';

/**
 * A duration with bounds. Every duration has a floor and a ceiling: those that arm a timer stay below
 * Node's timer limit (about 24.8 days), beyond which setTimeout fires at once instead of never.
 */
const duration = (fallback: string, min: string, max: string) => {
  const [minMs, maxMs] = [parseDuration(min), parseDuration(max)];
  return z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      try {
        const ms = parseDuration(text);
        if (ms < minMs || ms > maxMs) throw new RangeError(`must be between ${min} and ${max}`);
        return ms;
      } catch (error) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: (error as Error).message });
        return z.NEVER;
      }
    });
};
const flag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1');
/** Numbers are parsed from their text strictly: z.coerce would read " " as 0. */
const numberText = z
  .string()
  .regex(/^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$/, 'a number')
  .transform(Number);
const int = (fallback: number, min: number, max: number) =>
  numberText.pipe(z.number().int().min(min).max(max)).default(String(fallback));
const fraction = (min: number, max: number) => numberText.pipe(z.number().min(min).max(max));
const topicName = z
  .string()
  .regex(/^[a-zA-Z0-9._-]{1,249}$/, 'a Kafka topic name: letters, digits, ".", "_" or "-"');
const topic = (fallback: string) => topicName.default(fallback);

/**
 * The default operating point: a missed failure window costs five false-alarm windows. On calibrated
 * scores that is the Bayes rule "alert when P(failure within the horizon) ≥ 1/6". Unlike a recall target
 * it follows the shape of the precision–recall curve: where the last failures are undetectable it stops
 * before precision collapses (README, "Model quality", has the measurements behind the choice).
 */
export const DEFAULT_THRESHOLD_POLICY = 'cost:5/1';

/**
 * The environment schema: every PDM_* variable, its default and its range. Parsed once at boot into a
 * frozen Config; modules receive the pieces they need and never read process.env themselves.
 */
const envSchema = z.object({
  PDM_KAFKA_BROKERS: z.string().min(1).default('localhost:9092'),
  PDM_KAFKA_CLIENT_ID: z.string().min(1).default('pdm-worker'),
  PDM_KAFKA_TLS: flag(false),
  PDM_KAFKA_TLS_CA_FILE: z.string().optional(),
  PDM_KAFKA_TLS_REJECT_UNAUTHORIZED: flag(true),
  PDM_KAFKA_SASL_MECHANISM: z.enum(['scram-sha-256', 'scram-sha-512', 'plain']).optional(),
  PDM_KAFKA_SASL_USERNAME: z.string().optional(),
  PDM_KAFKA_SASL_PASSWORD: z.string().optional(),
  /** One URL; with PDM_REDIS_CLUSTER, one or more comma-separated seed nodes of the cluster (redisNodes). */
  PDM_REDIS_URL: z
    .string()
    .default('redis://127.0.0.1:6379')
    .refine(
      (text) => isRedisUrl(text) || text.split(',').every((u) => isRedisUrl(u.trim())),
      'not a redis:// or rediss:// URL (with PDM_REDIS_CLUSTER: one or more, comma-separated)',
    ),
  /** A Redis Cluster instead of a single Redis: hash-tagged keys (src/redis/keys.ts), one client per node. */
  PDM_REDIS_CLUSTER: flag(false),
  PDM_REDIS_USERNAME: z.string().optional(),
  PDM_REDIS_PASSWORD: z.string().optional(),
  PDM_REDIS_TLS_CA_FILE: z.string().optional(),
  PDM_REDIS_TLS_REJECT_UNAUTHORIZED: flag(true),
  /** Disabling TLS certificate verification is refused unless this is set: it must be a deliberate act. */
  PDM_ALLOW_INSECURE_TLS: flag(false),
  PDM_REDIS_PREFIX: z.string().default('pdm:'),
  PDM_GROUP_ID: z.string().min(1).default('pdm-worker'),
  PDM_TOPIC_READINGS: topic('pdm.sensor-readings'),
  PDM_TOPIC_LOGS: topic('pdm.maintenance-logs'),
  PDM_TOPIC_FAILURES: topic('pdm.failures'),
  PDM_TOPIC_ALERTS: topic('pdm.alerts'),
  /** Off unless set (empty also means off): every score is a record, so it is opt-in. */
  PDM_TOPIC_SCORES: z.union([topicName, z.literal('')]).optional(),
  PDM_TOPIC_DLQ: topic('pdm.dead-letter'),
  PDM_START_FROM: z.enum(['earliest', 'latest']).default('earliest'),
  PDM_WINDOW: int(24, 1, 10_000),
  PDM_TEXT_MAX_LEN: int(50, 1, 10_000),
  PDM_VOCAB_SIZE: int(1000, 2, 1_000_000),
  PDM_OOV_TOKEN: z.string().optional(),
  PDM_HORIZON: duration('24h', '1m', '365d'),
  PDM_LOG_LOOKBACK: duration('24h', '0ms', '365d'),
  PDM_ALLOWED_LATENESS: duration('1h', '0ms', '30d'),
  PDM_MAX_FUTURE_SKEW: duration('5m', '0ms', '30d'),
  PDM_IDLE_EVICT: duration('6h', '1s', '365d'),
  PDM_MAX_MACHINES: int(100_000, 1, 10_000_000),
  PDM_MAX_LOG_TOKENS: int(2_000, 1, 1_000_000),
  PDM_MAX_LOG_BYTES: int(262_144, 1_024, 1_073_741_824),
  PDM_MAX_RECORD_BYTES: int(65_536, 256, 10_000_000),
  PDM_ALERT_COOLDOWN: duration('1h', '0ms', '30d'),
  PDM_ALERT_HYSTERESIS: fraction(0, 1).default('0.1'),
  PDM_ALERT_RAISE_K: int(2, 1, 1_000),
  PDM_ALERT_WINDOW_N: int(3, 1, 1_000),
  PDM_ALERT_CLEAR_J: int(1, 1, 1_000),
  PDM_ALERT_FLAP_MULTIPLE: int(6, 1, 10_000),
  PDM_SCORE_BATCH: int(256, 1, 65_536),
  /** Extra forward passes an occlusion explanation of a raised alert may run; 0 turns them off. */
  PDM_EXPLAIN_MAX_PASSES: int(32, 0, 1_000),
  PDM_SCORE_MAX_WAIT: duration('0ms', '0ms', '10s'),
  PDM_MODEL_POLL_INTERVAL: duration('5s', '10ms', '1h'),
  PDM_SHUTDOWN_TIMEOUT: duration('20s', '1s', '1h'),
  // The broker's default group.min/max.session.timeout.ms bound what it accepts.
  PDM_KAFKA_SESSION_TIMEOUT: duration('30s', '6s', '30m'),
  PDM_HTTP_HOST: z.string().min(1).default('127.0.0.1'),
  PDM_HTTP_PORT: int(9464, 0, 65_535),
  PDM_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  PDM_LSTM_UNITS: int(64, 1, 4096),
  PDM_TEXT_LSTM_UNITS: int(64, 1, 4096),
  PDM_LSTM_LAYERS: int(1, 1, 8),
  PDM_EMBED_DIM: int(8, 1, 1024),
  PDM_DENSE_UNITS: int(32, 1, 4096),
  PDM_TRAIN_EPOCHS: int(8, 1, 1000),
  PDM_TRAIN_BATCH: int(32, 1, 65_536),
  PDM_TRAIN_PATIENCE: int(2, 0, 1000),
  PDM_TRAIN_MIN_POSITIVES: int(10, 1, 1_000_000),
  PDM_TRAIN_MAX_WINDOWS: numberText.pipe(z.number().int().min(100).max(100_000_000)).optional(),
  PDM_TRAIN_MAX_BYTES: int(1_073_741_824, 1_048_576, 2 ** 40),
  PDM_TRAIN_SEED: int(42, 0, 2 ** 31),
  PDM_TRAIN_SAMPLE_RETENTION: duration('90d', '1h', '3650d'),
  ...trainStoreEnv,
  PDM_THRESHOLD: numberText.pipe(z.number().gt(0).lt(1)).optional(),
  PDM_THRESHOLD_POLICY: z
    .string()
    .default(DEFAULT_THRESHOLD_POLICY)
    .transform((text, ctx) => {
      const parsed = parseThresholdPolicy(text);
      if ('error' in parsed) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: parsed.error });
        return z.NEVER;
      }
      return parsed;
    }),
  PDM_CALIBRATION: z.enum(['platt', 'isotonic', 'none']).default('platt'),
  PDM_EXTRA_FEATURES: extraFeaturesSchema,
  PDM_TRAIN_SEARCH_BUDGET: duration('30m', '1s', '7d'),
  PDM_RETRAIN_FAILURES: int(10, 1, 1_000_000),
  PDM_RETRAIN_INTERVAL: duration('24h', '1m', '365d'),
  // Drift as a retraining trigger (off by default): docs/evaluation.md "Drift as a retraining trigger".
  PDM_RETRAIN_DRIFT_PSI: z
    .string()
    .default('off')
    .transform((text, ctx) => {
      if (text.trim() === 'off') return undefined;
      const psi = /^\s*(\d+(\.\d*)?|\.\d+)\s*$/.test(text) ? Number(text) : NaN;
      if (psi >= 0.01 && psi <= 10) return psi;
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: "'off' or a PSI between 0.01 and 10" });
      return z.NEVER;
    }),
  PDM_RETRAIN_DRIFT_MIN_VALUES: int(1000, 1, 1_000_000_000),
  // `pdm evaluator` (live evaluation on delayed labels, drift): docs/configuration.md "Evaluator".
  PDM_EVAL_GRACE: duration('1h', '0ms', '30d'),
  PDM_EVAL_RETENTION: duration('30d', '1h', '3650d'),
  PDM_EVAL_INTERVAL: duration('5s', '100ms', '1h'),
  PDM_EVAL_WORKER_GROUP: z.string().min(1).optional(),
  PDM_DRIFT_WINDOW: duration('24h', '1m', '365d'),
});

export interface Topics {
  readonly readings: string;
  readonly logs: string;
  readonly failures: string;
  readonly alerts: string;
  readonly scores: string | undefined;
  readonly dlq: string;
}

export interface ModelShape {
  readonly window: number;
  readonly textMaxLen: number;
  readonly vocabSize: number;
  readonly lstmUnits: number;
  readonly textLstmUnits: number;
  /** Stacked sensor LSTM layers (1 = the seed's model). */
  readonly lstmLayers?: number;
  readonly embedDim: number;
  readonly denseUnits: number;
}

export interface Config {
  readonly kafka: {
    readonly brokers: readonly string[];
    readonly clientId: string;
    readonly groupId: string;
    readonly sessionTimeoutMs: number;
    readonly tls: {
      readonly enabled: boolean;
      readonly caFile: string | undefined;
      readonly rejectUnauthorized: boolean;
    };
    readonly sasl:
      | {
          readonly mechanism: 'scram-sha-256' | 'scram-sha-512' | 'plain';
          readonly username: string;
          readonly password: string;
        }
      | undefined;
  };
  readonly redis: {
    /** The Redis URL, or a cluster's first seed node. */
    readonly url: string;
    /** A Redis Cluster (PDM_REDIS_CLUSTER): every seed node given in PDM_REDIS_URL. */
    readonly cluster: { readonly seeds: readonly string[] } | undefined;
    readonly prefix: string;
    readonly username: string | undefined;
    readonly password: string | undefined;
    readonly tlsCaFile: string | undefined;
    readonly tlsRejectUnauthorized: boolean;
  };
  readonly topics: Topics;
  readonly startFrom: 'earliest' | 'latest';
  readonly model: ModelShape;
  readonly oovToken: string | undefined;
  readonly horizonMs: number;
  readonly logLookbackMs: number;
  readonly allowedLatenessMs: number;
  readonly maxFutureSkewMs: number;
  readonly idleEvictMs: number;
  readonly maxMachines: number;
  readonly maxLogTokens: number;
  /** Bytes of log text held per machine (its words' UTF-16 length plus 16 a log), enforced on insert. */
  readonly maxLogBytes: number;
  readonly maxRecordBytes: number;
  readonly alerts: {
    readonly cooldownMs: number;
    readonly hysteresis: number;
    /** k-of-n: raise when raiseK of the last windowN scores reach the threshold, clear when fewer than clearJ stay above threshold − hysteresis. */
    readonly raiseK: number;
    readonly windowN: number;
    readonly clearJ: number;
    /** A raise within this (flapMultiple × cooldown) of the previous clear counts in pdm_alert_flaps_total. */
    readonly flapWindowMs: number;
  };
  readonly scoring: { readonly batchSize: number; readonly maxWaitMs: number };
  /** Extra forward passes per raised alert for its occlusion explanation (0: off). */
  readonly explainMaxPasses: number;
  readonly modelPollIntervalMs: number;
  readonly shutdownTimeoutMs: number;
  readonly http: { readonly host: string; readonly port: number };
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  readonly training: {
    readonly epochs: number;
    readonly batchSize: number;
    readonly patience: number;
    readonly minPositives: number;
    /** A cap on training windows, or undefined for every window of the training split. */
    readonly maxWindows: number | undefined;
    /** A bound on the training tensors' bytes; beyond it negatives are subsampled (stratified), never positives. */
    readonly maxBytes: number;
    readonly seed: number;
    readonly sampleRetentionMs: number;
    readonly store: TrainStoreConfig;
    readonly threshold: number | undefined;
    readonly thresholdPolicy: ThresholdPolicy;
    readonly calibration: 'platt' | 'isotonic' | 'none';
    /** Extra sensor-branch channels new models are trained with (PDM_EXTRA_FEATURES); each model records its own. */
    readonly extraFeatures: ExtraFeatureChoice;
    /** Wall-clock budget of `pdm train --once --search N`: no new configuration starts after it. */
    readonly searchBudgetMs: number;
    readonly retrainAfterFailures: number;
    readonly retrainIntervalMs: number;
    /** Retrain when a sensor's PSI (from `pdm evaluator`) reaches this, once per serving version; undefined: off. */
    readonly retrainDriftPsi: number | undefined;
    /** Live values a sensor's PSI needs in the drift window before it may trigger a round. */
    readonly retrainDriftMinValues: number;
  };
  readonly evaluator: {
    /** Event time a decision waits past its deadline, for late failures and late readings. */
    readonly graceMs: number;
    /** Event time the evaluator remembers alerts and failures; older failures are counted `too_old`. */
    readonly retentionMs: number;
    readonly intervalMs: number;
    /** The worker's consumer group whose committed offsets gate decisions; undefined: no gate (`none`). */
    readonly workerGroup: string | undefined;
    readonly driftWindowMs: number;
  };
}

export { ConfigError };

/** The k-of-n alert rule must be satisfiable and must not clear an alert on the score that raised it. */
function checkAlertRule(k: number, n: number, j: number): void {
  const explain = `(PDM_ALERT_RAISE_K=${k}, PDM_ALERT_WINDOW_N=${n}, PDM_ALERT_CLEAR_J=${j})`;
  if (k > n)
    throw new ConfigError(
      `invalid configuration: PDM_ALERT_RAISE_K must be at most PDM_ALERT_WINDOW_N ${explain}`,
    );
  if (j > n)
    throw new ConfigError(
      `invalid configuration: PDM_ALERT_CLEAR_J must be at most PDM_ALERT_WINDOW_N ${explain}`,
    );
  // With j > k, a raise on exactly k high scores would be cleared by the next score: a built-in flap.
  if (j > k)
    throw new ConfigError(
      `invalid configuration: PDM_ALERT_CLEAR_J must be at most PDM_ALERT_RAISE_K ${explain}`,
    );
}

function isRedisUrl(text: string): boolean {
  return /^rediss?:\/\/[^\s]/.test(text) && URL.canParse(text);
}

/**
 * The nodes PDM_REDIS_URL names. On a single Redis it is one URL, whose password may hold a comma; only a
 * value that is not one URL is read as a list (which checkRedisCluster then refuses without the flag). On a
 * cluster it is the comma-separated seed nodes (a comma in a password there must be percent-encoded).
 */
function redisNodes(text: string, cluster: boolean): string[] {
  if (!cluster && isRedisUrl(text)) return [text];
  return text.split(',').map((u) => u.trim());
}

/** Several URLs only name a cluster's seed nodes; a cluster's key prefix must not hold a hash tag of its own. */
function checkRedisCluster(urls: readonly string[], cluster: boolean, prefix: string): void {
  if (urls.length > 1 && !cluster)
    throw new ConfigError(
      `invalid configuration: PDM_REDIS_URL holds ${urls.length} URLs; several URLs are the seed nodes of a Redis Cluster and need PDM_REDIS_CLUSTER=true`,
    );
  if (cluster && new Set(urls.map((u) => u.startsWith('rediss://'))).size > 1)
    throw new ConfigError(
      'invalid configuration: PDM_REDIS_URL mixes redis:// and rediss:// seed nodes; a cluster is reached one way',
    );
  // The key layout puts its own hash tags after the prefix (src/redis/keys.ts); a brace in the prefix would
  // become the tag of every key and put the whole deployment in one slot.
  if (cluster && /[{}]/.test(prefix))
    throw new ConfigError(
      `invalid configuration: PDM_REDIS_PREFIX=${JSON.stringify(prefix)} contains "{" or "}"; with PDM_REDIS_CLUSTER the key layout sets the hash tags itself`,
    );
}

/** Turns the environment (plus command-line overrides, which win) into a frozen Config, or throws ConfigError. */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>>,
  overrides: Readonly<Record<string, string>> = {},
): Config {
  const source: Record<string, string> = {};
  for (const [key, value] of Object.entries({ ...env, ...overrides })) {
    if (key.startsWith('PDM_') && value !== undefined && value !== '') source[key] = value;
  }
  if (env.PDM_TOPIC_SCORES === '' && overrides.PDM_TOPIC_SCORES === undefined) delete source.PDM_TOPIC_SCORES;
  const parsed = envSchema.safeParse(source);
  if (!parsed.success) {
    // Never echo a secret: passwords by name, and the password inside a URL (PDM_REDIS_URL) by shape.
    const shown = (key: string) =>
      /PASSWORD|SECRET/.test(key) ? '***' : JSON.stringify(redactUrlPassword(source[key] ?? ''));
    const lines = parsed.error.issues.map(
      (i) => `${i.path.join('.')}=${shown(String(i.path[0]))}: ${i.message}`,
    );
    throw new ConfigError(`invalid configuration: ${lines.join('; ')}`);
  }
  const e = parsed.data;
  const brokers = e.PDM_KAFKA_BROKERS.split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  for (const broker of brokers) {
    if (!/^[^:\s]+:\d{1,5}$/.test(broker))
      throw new ConfigError(`invalid configuration: PDM_KAFKA_BROKERS entry "${broker}" is not host:port`);
  }
  const redisUrls = redisNodes(e.PDM_REDIS_URL, e.PDM_REDIS_CLUSTER);
  const insecure = [
    ...(e.PDM_KAFKA_TLS && !e.PDM_KAFKA_TLS_REJECT_UNAUTHORIZED
      ? ['PDM_KAFKA_TLS_REJECT_UNAUTHORIZED=false']
      : []),
    ...(redisUrls.some((u) => u.startsWith('rediss://')) && !e.PDM_REDIS_TLS_REJECT_UNAUTHORIZED
      ? ['PDM_REDIS_TLS_REJECT_UNAUTHORIZED=false']
      : []),
  ];
  if (insecure.length && !e.PDM_ALLOW_INSECURE_TLS) {
    throw new ConfigError(
      `invalid configuration: ${insecure.join(', ')} disables TLS certificate verification; set PDM_ALLOW_INSECURE_TLS=true to force it`,
    );
  }
  checkRedisCluster(redisUrls, e.PDM_REDIS_CLUSTER, e.PDM_REDIS_PREFIX);
  checkAlertRule(e.PDM_ALERT_RAISE_K, e.PDM_ALERT_WINDOW_N, e.PDM_ALERT_CLEAR_J);
  checkExtraFeatures(e.PDM_EXTRA_FEATURES, e.PDM_WINDOW, e.PDM_LOG_LOOKBACK);
  // A reading accepted from the future becomes the machine's newest: on-time readings behind it by more than
  // the allowed lateness would then be dead-lettered as late. The skew may never exceed the lateness.
  if (e.PDM_MAX_FUTURE_SKEW > e.PDM_ALLOWED_LATENESS) {
    throw new ConfigError(
      `invalid configuration: PDM_MAX_FUTURE_SKEW (${e.PDM_MAX_FUTURE_SKEW} ms) must be at most PDM_ALLOWED_LATENESS (${e.PDM_ALLOWED_LATENESS} ms)`,
    );
  }
  let sasl: Config['kafka']['sasl'];
  if (e.PDM_KAFKA_SASL_MECHANISM) {
    if (!e.PDM_KAFKA_SASL_USERNAME || !e.PDM_KAFKA_SASL_PASSWORD)
      throw new ConfigError(
        'invalid configuration: PDM_KAFKA_SASL_MECHANISM needs PDM_KAFKA_SASL_USERNAME and PDM_KAFKA_SASL_PASSWORD',
      );
    sasl = {
      mechanism: e.PDM_KAFKA_SASL_MECHANISM,
      username: e.PDM_KAFKA_SASL_USERNAME,
      password: e.PDM_KAFKA_SASL_PASSWORD,
    };
  }
  return Object.freeze({
    kafka: {
      brokers,
      clientId: e.PDM_KAFKA_CLIENT_ID,
      groupId: e.PDM_GROUP_ID,
      sessionTimeoutMs: e.PDM_KAFKA_SESSION_TIMEOUT,
      tls: {
        enabled: e.PDM_KAFKA_TLS,
        caFile: e.PDM_KAFKA_TLS_CA_FILE,
        rejectUnauthorized: e.PDM_KAFKA_TLS_REJECT_UNAUTHORIZED,
      },
      sasl,
    },
    redis: {
      url: redisUrls[0]!,
      cluster: e.PDM_REDIS_CLUSTER ? { seeds: redisUrls } : undefined,
      prefix: e.PDM_REDIS_PREFIX,
      username: e.PDM_REDIS_USERNAME,
      password: e.PDM_REDIS_PASSWORD,
      tlsCaFile: e.PDM_REDIS_TLS_CA_FILE,
      tlsRejectUnauthorized: e.PDM_REDIS_TLS_REJECT_UNAUTHORIZED,
    },
    topics: {
      readings: e.PDM_TOPIC_READINGS,
      logs: e.PDM_TOPIC_LOGS,
      failures: e.PDM_TOPIC_FAILURES,
      alerts: e.PDM_TOPIC_ALERTS,
      scores: e.PDM_TOPIC_SCORES || undefined,
      dlq: e.PDM_TOPIC_DLQ,
    },
    startFrom: e.PDM_START_FROM,
    model: {
      window: e.PDM_WINDOW,
      textMaxLen: e.PDM_TEXT_MAX_LEN,
      vocabSize: e.PDM_VOCAB_SIZE,
      lstmUnits: e.PDM_LSTM_UNITS,
      textLstmUnits: e.PDM_TEXT_LSTM_UNITS,
      lstmLayers: e.PDM_LSTM_LAYERS,
      embedDim: e.PDM_EMBED_DIM,
      denseUnits: e.PDM_DENSE_UNITS,
    },
    oovToken: e.PDM_OOV_TOKEN,
    horizonMs: e.PDM_HORIZON,
    logLookbackMs: e.PDM_LOG_LOOKBACK,
    allowedLatenessMs: e.PDM_ALLOWED_LATENESS,
    maxFutureSkewMs: e.PDM_MAX_FUTURE_SKEW,
    idleEvictMs: e.PDM_IDLE_EVICT,
    maxMachines: e.PDM_MAX_MACHINES,
    maxLogTokens: e.PDM_MAX_LOG_TOKENS,
    maxLogBytes: e.PDM_MAX_LOG_BYTES,
    maxRecordBytes: e.PDM_MAX_RECORD_BYTES,
    alerts: {
      cooldownMs: e.PDM_ALERT_COOLDOWN,
      hysteresis: e.PDM_ALERT_HYSTERESIS,
      raiseK: e.PDM_ALERT_RAISE_K,
      windowN: e.PDM_ALERT_WINDOW_N,
      clearJ: e.PDM_ALERT_CLEAR_J,
      flapWindowMs: e.PDM_ALERT_FLAP_MULTIPLE * e.PDM_ALERT_COOLDOWN,
    },
    scoring: { batchSize: e.PDM_SCORE_BATCH, maxWaitMs: e.PDM_SCORE_MAX_WAIT },
    explainMaxPasses: e.PDM_EXPLAIN_MAX_PASSES,
    modelPollIntervalMs: e.PDM_MODEL_POLL_INTERVAL,
    shutdownTimeoutMs: e.PDM_SHUTDOWN_TIMEOUT,
    http: { host: e.PDM_HTTP_HOST, port: e.PDM_HTTP_PORT },
    logLevel: e.PDM_LOG_LEVEL,
    training: {
      epochs: e.PDM_TRAIN_EPOCHS,
      batchSize: e.PDM_TRAIN_BATCH,
      patience: e.PDM_TRAIN_PATIENCE,
      minPositives: e.PDM_TRAIN_MIN_POSITIVES,
      maxWindows: e.PDM_TRAIN_MAX_WINDOWS,
      maxBytes: e.PDM_TRAIN_MAX_BYTES,
      seed: e.PDM_TRAIN_SEED,
      sampleRetentionMs: e.PDM_TRAIN_SAMPLE_RETENTION,
      store: trainStoreConfig(e),
      threshold: e.PDM_THRESHOLD,
      // PDM_THRESHOLD (older) is a fixed threshold and wins when set.
      thresholdPolicy:
        e.PDM_THRESHOLD !== undefined
          ? ({ kind: 'fixed', value: e.PDM_THRESHOLD } as const)
          : e.PDM_THRESHOLD_POLICY,
      calibration: e.PDM_CALIBRATION,
      extraFeatures: e.PDM_EXTRA_FEATURES,
      searchBudgetMs: e.PDM_TRAIN_SEARCH_BUDGET,
      retrainAfterFailures: e.PDM_RETRAIN_FAILURES,
      retrainIntervalMs: e.PDM_RETRAIN_INTERVAL,
      retrainDriftPsi: e.PDM_RETRAIN_DRIFT_PSI,
      retrainDriftMinValues: e.PDM_RETRAIN_DRIFT_MIN_VALUES,
    },
    evaluator: {
      graceMs: e.PDM_EVAL_GRACE,
      retentionMs: e.PDM_EVAL_RETENTION,
      intervalMs: e.PDM_EVAL_INTERVAL,
      workerGroup:
        e.PDM_EVAL_WORKER_GROUP === 'none' ? undefined : (e.PDM_EVAL_WORKER_GROUP ?? e.PDM_GROUP_ID),
      driftWindowMs: e.PDM_DRIFT_WINDOW,
    },
  });
}

/** The names of every PDM_* variable the schema knows, for the README table and `pdm --help`. */
export const CONFIG_KEYS: readonly string[] = Object.keys(envSchema.shape);
