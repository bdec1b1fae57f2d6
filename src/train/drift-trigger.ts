import { keyLayout } from '../redis/keys';
import type { RedisClient } from '../redis/types';
import { readDrift } from '../evaluate/store';
import type { StoredDrift } from '../evaluate/store';

export interface DriftTriggerOptions {
  /** A sensor PSI at or above this starts a round. */
  readonly psi: number;
  /** The PSI of a sensor with fewer live values in the drift window is noise: ignored. */
  readonly minValues: number;
  /** Drift figures older than this (wall time) are stale: the evaluator may have stopped. */
  readonly maxAgeMs: number;
}

/**
 * Why drift calls for a round, or undefined. Only the serving version's figures count (the evaluator's
 * reference is the serving model's scaler), and the sensor that drifted most is named.
 */
export function driftReason(
  drift: StoredDrift | undefined,
  serving: string | undefined,
  opts: DriftTriggerOptions,
  now: number,
): string | undefined {
  if (!drift || !serving || drift.version !== serving || now - drift.writtenAt > opts.maxAgeMs)
    return undefined;
  const worst = drift.sensors
    .filter((s) => s.n >= opts.minValues && s.psi >= opts.psi)
    .sort((a, b) => b.psi - a.psi)[0];
  return worst
    ? `drift: ${worst.sensor} PSI ${worst.psi.toFixed(3)} ≥ ${opts.psi} over ${worst.n} values (${serving})`
    : undefined;
}

/**
 * Drift as a retraining trigger: at most one round per serving version. A round that promotes a new version
 * resets the evaluator's reference (new scaler, fresh window); one that does not promote leaves the version
 * serving and already marked, so a drift the new data cannot fix does not retrain in a loop. The mark is
 * in Redis, so a restarted trainer does not retrain again for the same drift.
 */
export class DriftTrigger {
  private readonly markKey: string;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly opts: DriftTriggerOptions,
  ) {
    this.markKey = keyLayout(redis, prefix).driftTriggered();
  }

  /** The reason to start a round now (and marks the version), or undefined. */
  async check(serving: string | undefined, now = Date.now()): Promise<string | undefined> {
    const reason = driftReason(await readDrift(this.redis, this.prefix), serving, this.opts, now);
    if (!reason || !serving) return undefined;
    // SET … GET: marks and reads the previous mark in one step, so two trainers cannot both fire.
    const previous = await this.redis.set(this.markKey, serving, 'GET');
    return previous === serving ? undefined : reason;
  }
}
