import { z } from 'zod';
import type { DriftSnapshot } from '../drift';
import { eventTime, machineId } from '../ingest/schemas';
import type { LiveFigures } from './tally';

export type EvaluatorState = 'starting' | 'running' | 'draining' | 'stopped' | 'failed';

/** The part of an alert message the evaluation reads (docs/topics-and-messages.md). */
export const alertSchema = z.object({
  alertId: z.string().min(1).max(200),
  machineId,
  ts: eventTime,
  state: z.enum(['raised', 'cleared']),
  modelVersion: z.string().min(1).max(200),
});

export type EvaluatedAlert = z.infer<typeof alertSchema>;

/** The part of a shadow's score record the evaluation reads (scores topic, `role: "shadow"`). */
export const shadowScoreSchema = z.object({
  machineId,
  ts: eventTime,
  score: z.number().finite(),
  modelVersion: z.string().min(1).max(200),
  role: z.literal('shadow'),
});

/** A scores record as the evaluator sees it: a shadow's score, 'invalid', or undefined (the champion's). */
export type ParsedShadowScore = z.infer<typeof shadowScoreSchema> | 'invalid' | undefined;

export interface EvaluatorView {
  readonly role: 'evaluator';
  readonly serving: string;
  /** The shadow version evaluated beside the serving one (champion/challenger), or null. */
  readonly shadow: string | null;
  /** The fleet's event-time clock (newest reading), ISO, or null before the first reading. */
  readonly clock: string | null;
  readonly versions: readonly LiveFigures[];
  readonly ignored: Readonly<Record<string, number>>;
  readonly pending: { alerts: number; failures: number };
  readonly drift: DriftSnapshot | null;
  readonly gate: { workerGroup: string | null; caughtUp: boolean };
}
