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

export interface EvaluatorView {
  readonly role: 'evaluator';
  readonly serving: string;
  /** The fleet's event-time clock (newest reading), ISO, or null before the first reading. */
  readonly clock: string | null;
  readonly versions: readonly LiveFigures[];
  readonly ignored: Readonly<Record<string, number>>;
  readonly pending: { alerts: number; failures: number };
  readonly drift: DriftSnapshot | null;
  readonly gate: { workerGroup: string | null; caughtUp: boolean };
}
