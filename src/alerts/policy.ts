import { createHash } from 'node:crypto';
import type { AlertState } from '../state';

export interface AlertPolicy {
  readonly threshold: number;
  readonly hysteresis: number;
  readonly cooldownMs: number;
  /** Raise when at least `raiseK` of the last `windowN` scores are at or above the threshold. */
  readonly raiseK: number;
  readonly windowN: number;
  /** Clear when fewer than `clearJ` of the last `windowN` scores are at or above threshold − hysteresis. */
  readonly clearJ: number;
}

export type Transition = 'raised' | 'cleared' | undefined;

const countAtLeast = (scores: readonly number[], level: number) =>
  scores.reduce((n, s) => (s >= level ? n + 1 : n), 0);

/**
 * The score below which a raised alert's votes stop counting: threshold − hysteresis, with the hysteresis
 * capped at half the threshold. Calibrated scores can put a threshold under the hysteresis (a threshold
 * policy aiming at high recall gives 0.05, say); uncapped, the clear level would be negative and an alert
 * could never clear.
 */
export function clearLevel(policy: Pick<AlertPolicy, 'threshold' | 'hysteresis'>): number {
  return policy.threshold - Math.min(policy.hysteresis, policy.threshold / 2);
}

/**
 * The alert state machine (docs/semantics.md "Alerts": k-of-n persistence on top of the threshold, hysteresis and cooldown).
 * With hourly readings a single score above the threshold is often noise: raising on one window made
 * alerts flap and let one spike on a healthy machine raise. So the machine's last n scores vote: raise when
 * at least k reach the threshold, clear when fewer than j stay above threshold − hysteresis. k = n = j = 1
 * is the plain threshold rule. Raising needs k scores seen; a window that is not full yet never votes to clear. At most one `raised` per machine per cooldown, on event time so that a
 * replay alerts exactly like live data. Mutates `alert` and returns the transition to publish, if any.
 */
export function applyScore(alert: AlertState, score: number, ts: number, policy: AlertPolicy): Transition {
  alert.recent.push(score);
  if (alert.recent.length > policy.windowN) alert.recent.splice(0, alert.recent.length - policy.windowN);
  if (alert.state === 'clear') {
    if (countAtLeast(alert.recent, policy.threshold) < policy.raiseK) return undefined;
    if (alert.lastRaisedTs !== undefined && ts - alert.lastRaisedTs < policy.cooldownMs) return undefined;
    alert.state = 'raised';
    alert.lastRaisedTs = ts;
    return 'raised';
  }
  // Scores not seen yet (a checkpoint from before this rule, or a window just widened) do not vote to
  // clear: a raised alert stays raised until n scores say otherwise.
  const unseen = policy.windowN - alert.recent.length;
  if (countAtLeast(alert.recent, clearLevel(policy)) + unseen < policy.clearJ) {
    alert.state = 'clear';
    alert.lastClearedTs = ts;
    return 'cleared';
  }
  return undefined;
}

/**
 * A flap: a `raised` that comes within `flapWindowMs` (a multiple of the cooldown) of the machine's previous
 * `cleared`, in event time. Call it with the state as it was before `applyScore` raised.
 */
export function isFlap(lastClearedTs: number | undefined, raisedTs: number, flapWindowMs: number): boolean {
  return lastClearedTs !== undefined && raisedTs - lastClearedTs < flapWindowMs;
}

/** Same machine, same triggering reading, same model version, same transition → same id. */
export function alertId(
  machineId: string,
  ts: number,
  modelVersion: string,
  state: 'raised' | 'cleared',
): string {
  return createHash('sha256')
    .update(`${machineId}\u0000${ts}\u0000${modelVersion}\u0000${state}`)
    .digest('hex')
    .slice(0, 32);
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
