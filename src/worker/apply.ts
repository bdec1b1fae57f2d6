import type { LogEntry, Reading } from '../ingest';
import type { Metrics } from '../metrics';
import { addLog, addReading, wordsForWindow } from '../state';
import type { MachineState, RecordPlace, WindowLimits } from '../state';
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

/** The record's place (topic, partition, incarnation), offset and Kafka timestamp. */
export interface RecordPosition {
  readonly place: RecordPlace;
  readonly offset: number;
  readonly producedAt: number;
}

type Role = 'readings' | 'logs';

/** The answer for most records (applied, nothing to ask): one shared object, not one per record. */
const NOTHING: Applied = Object.freeze({});

/**
 * Whether the record was applied before a crash (its checkpoint was written, its commit was not): at or
 * below the machine's applied offset of the same place. A bookmark of another topic, partition or topic
 * incarnation says nothing about this record (added partitions, a recreated topic, reset offsets): it is new.
 * A bookmark without a place (a checkpoint from before places were recorded) is taken as the same place.
 */
function redelivered(state: MachineState, role: Role, at: RecordPosition): boolean {
  if (at.offset > state.applied[role]) return false;
  const place = state.appliedAt?.[role];
  return (
    place === undefined ||
    (place.topic === at.place.topic &&
      place.partition === at.place.partition &&
      place.incarnation === at.place.incarnation)
  );
}

/** Moves the machine's bookmark of `role` to this record. */
function bookmark(state: MachineState, role: Role, at: RecordPosition): void {
  state.applied[role] = at.offset;
  // Most records come from the place of the machine's previous one: no new object then (a copy per record
  // was a measurable share of ingest). The object is replaced, never changed, when the place moves.
  const place = state.appliedAt?.[role];
  if (
    place === undefined ||
    place.topic !== at.place.topic ||
    place.partition !== at.place.partition ||
    place.incarnation !== at.place.incarnation
  )
    state.appliedAt = { ...state.appliedAt, [role]: at.place };
}

/**
 * Applies one valid reading. A record applied before (see `redelivered`) is dropped as `redelivered`, so
 * it is never re-alerted.
 */
export function applyReading(
  state: MachineState,
  reading: Reading,
  at: RecordPosition,
  ctx: ApplyContext,
): Applied {
  if (redelivered(state, 'readings', at)) {
    ctx.metrics.recordsDropped.inc({ topic: ctx.topic, reason: 'redelivered' });
    return NOTHING;
  }
  const newest = state.readings.at(-1)?.ts;
  const outcome = addReading(state, reading, ctx.limits);
  bookmark(state, 'readings', at);
  if (outcome === 'late')
    return { late: `ts ${iso(reading.ts)} is more than the allowed lateness behind ${iso(newest ?? 0)}` };
  if (outcome === 'duplicate') ctx.metrics.recordsDropped.inc({ topic: ctx.topic, reason: 'duplicate' });
  if (outcome !== 'score' || !ctx.hasModel()) return NOTHING;
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
  if (redelivered(state, 'logs', at)) {
    ctx.metrics.recordsDropped.inc({ topic: ctx.topic, reason: 'redelivered' });
    return NOTHING;
  }
  const outcome = addLog(state, log.ts, textToWordSequence(log.text), ctx.limits);
  bookmark(state, 'logs', at);
  if (outcome === 'late')
    return { late: `log ts ${iso(log.ts)} is older than the lookback plus the allowed lateness` };
  if (outcome === 'duplicate') ctx.metrics.recordsDropped.inc({ topic: ctx.topic, reason: 'duplicate' });
  return NOTHING;
}
