/**
 * The project's error taxonomy, in one place. Every error we throw on purpose carries a `code` (a member of
 * a const union, so a switch over codes is checked by the compiler) and a `retriable` flag that `retry()`
 * honours: a refused model or a bad flag is never retried, a model swap during scoring is. Errors from
 * libraries keep their own flags (kafkajs sets `retriable` too); programmer errors are never retried.
 * This module imports nothing, so any module may use it without an import cycle.
 */

/** Why a model version was refused by the registry (a label of `pdm_model_load_failures_total`). */
export const MODEL_REFUSED_CODES = [
  'missing',
  'corrupt',
  'hash_mismatch',
  'incompatible',
  'vocab_mismatch',
] as const;
export type ModelRefusedCode = (typeof MODEL_REFUSED_CODES)[number];

/** Why a training round ended without a model (`pdm train --once` prints it and exits 3). */
export const TRAINING_CODES = ['too_few_positives', 'no_data', 'locked', 'no_validation_positives'] as const;
export type TrainingCode = (typeof TRAINING_CODES)[number];

export const ERROR_CODES = [
  'config',
  'usage',
  'stale_model',
  'unsafe_key',
  'promotion_fenced',
  'stale_checkpoint',
  ...MODEL_REFUSED_CODES,
  ...TRAINING_CODES,
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * Reason codes of the dead-letter topic (`error.code`) and of `pdm_records_invalid_total{code}`. Adding
 * one: add it here, produce it where the record is refused, and document it with the dead-letter topic.
 */
export const DEAD_LETTER_CODES = [
  'oversize',
  'bad_json',
  'unsafe_key',
  'non_finite',
  'missing_machine_id',
  'bad_ts',
  'bad_shape',
  'key_mismatch',
  'bad_key',
  'future',
  'late',
] as const;
export type DeadLetterCode = (typeof DEAD_LETTER_CODES)[number];

/** The base of every error this project throws on purpose. */
export class PdmError<C extends ErrorCode = ErrorCode> extends Error {
  constructor(
    readonly code: C,
    message: string,
    readonly retriable = false,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A bad configuration value; the message names the variable. */
export class ConfigError extends PdmError<'config'> {
  constructor(message: string) {
    super('config', message);
  }
}

/** A bad command line; the CLI prints its usage text with it. */
export class UsageError extends PdmError<'usage'> {
  constructor(message: string) {
    super('usage', message);
  }
}

/** A model version the registry will not serve; the current one keeps serving. */
export class ModelRefusedError extends PdmError<ModelRefusedCode> {}

/** A promotion refused because the training lock that fenced it is no longer held by the caller. */
export class PromotionFencedError extends PdmError<'promotion_fenced'> {
  constructor(message: string) {
    super('promotion_fenced', message);
  }
}

/**
 * A checkpoint write refused because it would move a machine's applied offset backwards: the writer's
 * partition has a newer owner that checkpointed further (a stale writer, stalled past its session timeout).
 */
export class StaleCheckpointError extends PdmError<'stale_checkpoint'> {
  constructor(readonly machineIds: readonly string[]) {
    super(
      'stale_checkpoint',
      `checkpoint of ${machineIds.length} machine(s) refused: a newer owner checkpointed further (e.g. ${machineIds.slice(0, 3).join(', ')})`,
    );
  }
}

/** A training round that produced no model, for a reason the user can act on. */
export class TrainingError extends PdmError<TrainingCode> {}

/** Features built for a model that is no longer serving: re-featurise with the new one and score again. */
export class StaleModelError extends PdmError<'stale_model'> {
  constructor(message: string) {
    super('stale_model', message, true);
  }
}

/** A JSON document with a prototype-polluting key (`__proto__`, `constructor`, `prototype`). */
export class UnsafeKeyError extends PdmError<'unsafe_key'> {
  constructor(message: string) {
    super('unsafe_key', message);
  }
}

const isProgrammerError = (e: unknown) =>
  e instanceof TypeError || e instanceof RangeError || e instanceof SyntaxError;

/**
 * Whether trying again may succeed: programmer errors never; an error with a boolean `retriable` (ours,
 * kafkajs's) says so itself; anything else (a socket error, a Redis timeout) is presumed transient.
 */
export function isRetriable(error: unknown): boolean {
  if (isProgrammerError(error)) return false;
  if (
    typeof error === 'object' &&
    error !== null &&
    'retriable' in error &&
    typeof error.retriable === 'boolean'
  )
    return error.retriable;
  return true;
}

/** Process exit codes of `pdm`: 0 done, 1 failed, 2 bad usage or configuration, 3 training produced no model. */
export const EXIT_CODES = { ok: 0, failure: 1, usage: 2, noModel: 3 } as const;
export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/** The one mapping from an error to the exit code of the `pdm` process. */
export function exitCodeFor(error: unknown): ExitCode {
  if (!(error instanceof PdmError)) return EXIT_CODES.failure;
  const code = error.code as ErrorCode;
  if (code === 'usage' || code === 'config') return EXIT_CODES.usage;
  if ((TRAINING_CODES as readonly string[]).includes(code)) return EXIT_CODES.noModel;
  return EXIT_CODES.failure;
}
