import { createHash } from 'node:crypto';
import type { AlertState } from '../state';

export interface AlertPolicy {
  readonly threshold: number;
  readonly hysteresis: number;
  readonly cooldownMs: number;
}

export type Transition = 'raised' | 'cleared' | undefined;

/**
 * The alert state machine of docs/semantics.md "Alerts": raise when the score reaches the threshold, clear only below
 * threshold − hysteresis (so a score hovering at the threshold does not flap), and at most one `raised`
 * per machine per cooldown. Cooldown runs on event time so that a replay alerts exactly like live data.
 * Mutates `alert` and returns the transition to publish, if any.
 */
export function applyScore(alert: AlertState, score: number, ts: number, policy: AlertPolicy): Transition {
  if (alert.state === 'clear') {
    if (score < policy.threshold) return undefined;
    if (alert.lastRaisedTs !== undefined && ts - alert.lastRaisedTs < policy.cooldownMs) return undefined;
    alert.state = 'raised';
    alert.lastRaisedTs = ts;
    return 'raised';
  }
  if (score < policy.threshold - policy.hysteresis) {
    alert.state = 'clear';
    return 'cleared';
  }
  return undefined;
}

/** Same machine, same triggering reading, same model version, same transition → same id. */
export function alertId(machineId: string, ts: number, modelVersion: string, state: 'raised' | 'cleared'): string {
  return createHash('sha256').update(`${machineId}\u0000${ts}\u0000${modelVersion}\u0000${state}`).digest('hex').slice(0, 32);
}

export interface AlertMessage {
  readonly alertId: string;
  readonly machineId: string;
  readonly ts: string;
  readonly state: 'raised' | 'cleared';
  readonly score: number;
  readonly threshold: number;
  readonly modelVersion: string;
  readonly emittedAt: string;
  readonly explain: Readonly<Record<string, unknown>>;
}
