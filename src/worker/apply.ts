import type { LogEntry, Reading } from '../ingest';
import type { Metrics } from '../metrics';
import { addLog, addReading, wordsForWindow } from '../state';
import type { MachineState, WindowLimits } from '../state';
import { textToWordSequence } from '../tokenize';
import { windowContext } from '../features';
import { iso } from './messages';
import type { Scoring } from './ports';

/** What applying one valid record asks of the batch: a dead letter (`late`), a window to score, or nothing. */
export interface Applied {
  readonly late?: string;
  readonly score?: Scoring;
}

export interface ApplyContext {
  readonly topic: string;
  readonly limits: WindowLimits;
  readonly metrics: Pick<Metrics, 'recordsDropped'>;
  /** Without a model, readings update the window but ask for no score. */
  readonly hasModel: () => boolean;
}

/** The record's offset and Kafka timestamp. */
export interface RecordPosition {
  readonly offset: number;
  readonly producedAt: number;
}

/**
 * Applies one valid reading. A record at or below the machine's applied offset was applied before a crash
 * (its checkpoint was written, its commit was not): dropped as `redelivered`, so it is never re-alerted.
 */
export function applyReading(
  state: MachineState,
  reading: Reading,
  at: RecordPosition,
  ctx: ApplyContext,
): Applied {
  if (at.offset <= state.applied.readings) {
    ctx.metrics.recordsDropped.inc({ topic: ctx.topic, reason: 'redelivered' });
    return {};
  }
  const newest = state.readings.at(-1)?.ts;
  const outcome = addReading(state, reading, ctx.limits);
  state.applied.readings = at.offset;
  if (outcome === 'late')
    return { late: `ts ${iso(reading.ts)} is more than the allowed lateness behind ${iso(newest ?? 0)}` };
  if (outcome === 'duplicate') ctx.metrics.recordsDropped.inc({ topic: ctx.topic, reason: 'duplicate' });
  if (outcome !== 'score' || !ctx.hasModel()) return {};
  const words = wordsForWindow(state, reading.ts, ctx.limits.logLookbackMs);
  return {
    score: {
      state,
      ts: reading.ts,
      readings: state.readings.slice(),
      words,
      context: windowContext(state, reading.ts),
      producedAt: at.producedAt,
    },
  };
}

/** Applies one valid log entry; the same idempotence rule as readings, on the logs' own applied offset. */
export function applyLog(state: MachineState, log: LogEntry, at: RecordPosition, ctx: ApplyContext): Applied {
  if (at.offset <= state.applied.logs) {
    ctx.metrics.recordsDropped.inc({ topic: ctx.topic, reason: 'redelivered' });
    return {};
  }
  const outcome = addLog(state, log.ts, textToWordSequence(log.text), ctx.limits);
  state.applied.logs = at.offset;
  if (outcome === 'late')
    return { late: `log ts ${iso(log.ts)} is older than the lookback plus the allowed lateness` };
  if (outcome === 'duplicate') ctx.metrics.recordsDropped.inc({ topic: ctx.topic, reason: 'duplicate' });
  return {};
}
