import { z } from 'zod';
import { parseDuration } from './duration';

const UNIT_BYTES: Record<string, number> = {
  '': 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
};
const MIN_BYTES = 64 * 1024;
const MAX_BYTES = 2 ** 40;

/** `268435456`, `256MiB`, `1.5GB`: a byte count with an optional decimal or binary unit. */
export function parseBytes(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = UNIT_BYTES[match?.[2]?.toLowerCase() ?? 'x'];
  if (!match || unit === undefined)
    throw new RangeError(`not a byte count: "${text}" (use e.g. 268435456, 256MiB, 2GB)`);
  return Math.floor(Number(match[1]) * unit);
}

const bytes = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      try {
        const n = parseBytes(text);
        if (n < MIN_BYTES || n > MAX_BYTES) throw new RangeError('must be between 64KiB and 1TiB');
        return n;
      } catch (error) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: (error as Error).message });
        return z.NEVER;
      }
    });

/** A non-negative decimal within [min, max]. */
const decimal = (fallback: string, what: string, min: number, max: number) =>
  z
    .string()
    .regex(/^\s*\d+(\.\d+)?\s*$/, what)
    .default(fallback)
    .transform(Number)
    .pipe(z.number().min(min).max(max));

/**
 * The trainer's bounded sample store (docs/model.md, "The sample store"). Its own sub-schema, spread into
 * the environment schema, so the store's settings live in one place.
 */
export const trainStoreEnv = {
  // Importance weights in the training loss too (they always weigh validation, calibration, threshold and
  // metrics). Off by default: on the store bench the weighted loss ranked worse (README).
  PDM_TRAIN_WEIGHTED_LOSS: z
    .enum(['true', 'false', '1', '0'])
    .default('false')
    .transform((v) => v === 'true' || v === '1'),
  PDM_TRAIN_STORE_BYTES: bytes('256MiB'),
  PDM_TRAIN_STORE_NEAR: decimal('2', 'a number of horizons', 1, 100),
  // The most of the budget near-failure windows may take while the reservoir wants more. 1 by default: on the
  // store bench, capping them at half (they took 80 %) ranked worse (README, "Retraining and rollback").
  PDM_TRAIN_STORE_NEAR_SHARE: decimal('1', 'a fraction of PDM_TRAIN_STORE_BYTES, e.g. 0.5', 0.05, 1),
  PDM_TRAIN_STORE_BUCKET: z
    .string()
    .default('7d')
    .transform((text, ctx) => {
      try {
        const ms = parseDuration(text);
        if (ms < 60_000 || ms > 3650 * 86_400_000) throw new RangeError('must be between 1m and 3650d');
        return ms;
      } catch (error) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: (error as Error).message });
        return z.NEVER;
      }
    }),
};

export interface TrainStoreConfig {
  /** Bound on the stored samples' bytes (the encoded blobs, the Redis hash overhead aside). */
  readonly maxBytes: number;
  /** A window within this many horizons of a failure (before or after) is kept whole, never sampled. */
  readonly nearHorizons: number;
  /**
   * The most of the budget near-failure windows may take when the reservoir needs the rest (1: near windows
   * first, the reservoir gets what is left).
   */
  readonly nearShare: number;
  /** The reservoir of the other windows is stratified per machine and per time bucket of this width. */
  readonly bucketMs: number;
  /** Reservoir windows' importance weights in the training loss (else only in what is evaluated). */
  readonly weightedLoss: boolean;
}

export function trainStoreConfig(e: {
  PDM_TRAIN_STORE_BYTES: number;
  PDM_TRAIN_STORE_NEAR: number;
  PDM_TRAIN_STORE_NEAR_SHARE: number;
  PDM_TRAIN_STORE_BUCKET: number;
  PDM_TRAIN_WEIGHTED_LOSS: boolean;
}): TrainStoreConfig {
  return {
    maxBytes: e.PDM_TRAIN_STORE_BYTES,
    nearHorizons: e.PDM_TRAIN_STORE_NEAR,
    nearShare: e.PDM_TRAIN_STORE_NEAR_SHARE,
    bucketMs: e.PDM_TRAIN_STORE_BUCKET,
    weightedLoss: e.PDM_TRAIN_WEIGHTED_LOSS,
  };
}
