import type { Message } from 'kafkajs';
import { alertId } from '../alerts';
import type { AlertMessage, Transition } from '../alerts';
import type { Explanation } from '../explain';
import type { Scoring, WindowScore } from './ports';

/**
 * The records the worker publishes, built in one place so their shapes (part of the contract: alerts and
 * scores topics) are not scattered over the batch logic. Dead letters are built in `dead-letter.ts`,
 * whose bound on size is a guarantee of its own.
 */

export const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Why the alert was raised. Always: the three sensors furthest from the training mean and the recent log
 * words (what is unusual). On raised alerts, when explanations are on: `attributions`, the inputs this
 * model's score depended on, by occlusion (docs/explain.md: drop = score − score with that input occluded).
 */
export function explanation(
  s: Pick<Scoring, 'readings' | 'words'>,
  meta: WindowScore['meta'],
  attribution?: Explanation,
): Record<string, unknown> {
  const { sensors, scaler } = meta;
  const last = s.readings.at(-1)?.values ?? {};
  const z = sensors
    .map((sensor, i) => ({
      sensor,
      z: ((last[sensor] ?? scaler.mean[i] ?? 0) - (scaler.mean[i] ?? 0)) / ((scaler.std[i] ?? 1) || 1),
    }))
    .sort((a, b) => Math.abs(b.z) - Math.abs(a.z))
    .slice(0, 3)
    .map((e) => ({ sensor: e.sensor, z: Math.round(e.z * 100) / 100 }));
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    topSensorsZ: z,
    logWords: s.words.length,
    recentWords: s.words.slice(-12),
    ...(attribution && {
      attributions: attribution.attributions.map((a) => ({
        kind: a.kind,
        name: a.name,
        drop: round(a.drop),
      })),
      attributionPasses: attribution.passes,
      attributionSkipped: attribution.skipped,
    }),
  };
}

/** An alert record. Its id depends only on machine, triggering reading, model version and transition. */
export function alertRecord(
  s: Scoring,
  result: WindowScore,
  transition: NonNullable<Transition>,
  emittedAt: number,
  attribution?: Explanation,
): Message {
  const { machineId } = s.state;
  const alert: AlertMessage = {
    alertId: alertId(machineId, s.ts, result.modelVersion, transition),
    machineId,
    ts: iso(s.ts),
    state: transition,
    score: result.score,
    threshold: result.meta.threshold,
    modelVersion: result.modelVersion,
    emittedAt: iso(emittedAt),
    explain: explanation(s, result.meta, attribution),
  };
  return { key: machineId, value: JSON.stringify(alert) };
}

/** Who scored a window while a shadow version is on (docs/topics-and-messages.md, scores topic). */
export type ScoreRole = 'champion' | 'shadow';

/**
 * A record of the scores topic (every score, when that topic is configured). `role` only while shadow
 * scoring is on, so that consumers of the topic see no change otherwise.
 */
export function scoreRecord(s: Scoring, result: WindowScore, role?: ScoreRole): Message {
  const { machineId } = s.state;
  return {
    key: machineId,
    value: JSON.stringify({
      machineId,
      ts: iso(s.ts),
      score: result.score,
      modelVersion: result.modelVersion,
      ...(role && { role }),
    }),
  };
}
