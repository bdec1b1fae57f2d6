import type { Reading } from '../ingest';

export interface TimedValues {
  readonly ts: number;
  readonly values: Readonly<Record<string, number>>;
}
export interface TimedWords {
  readonly ts: number;
  readonly words: readonly string[];
}
export interface AlertState {
  state: 'raised' | 'clear';
  /** Event time of the last `raised`, for the cooldown (event time, so replays behave like live data). */
  lastRaisedTs: number | undefined;
  /** Event time of the last `cleared`, to count flaps (a raise soon after a clear). */
  lastClearedTs: number | undefined;
  /** The machine's most recent scores, oldest first, at most the alert window n: the k-of-n vote. */
  recent: number[];
}
/**
 * Where a record came from: its topic, partition and the topic's incarnation (see incarnation.ts). An
 * offset means something only together with these: after partitions are added, a topic is recreated or a
 * group's offsets are reset, the same offset numbers name other records.
 */
export interface RecordPlace {
  readonly topic: string;
  readonly partition: number;
  readonly incarnation: string;
}

export interface LastScore {
  readonly ts: number;
  readonly score: number;
  readonly modelVersion: string;
}

/** Everything the worker keeps per machine. Plain data: it is what a checkpoint serialises. */
export interface MachineState {
  readonly machineId: string;
  /** The newest readings in event-time order, at most `window` of them. */
  readings: TimedValues[];
  /**
   * Event time of the machine's first reading ever seen (also late or dropped ones), for the `age` feature;
   * absent in checkpoints written before it, which then count from the oldest reading held.
   */
  firstTs?: number;
  /** Tokenised logs in event-time order, within the lookback of the newest reading. */
  logs: TimedWords[];
  alert: AlertState;
  lastScore: LastScore | undefined;
  /**
   * The Kafka offset of the last record applied, per topic role, and (`appliedAt`) where that offset
   * lives. A record from the same place at or below it was applied before (a crash between checkpoint and
   * commit re-delivers it): exact idempotence, whatever its event time. From another place it is new.
   */
  applied: { readings: number; logs: number };
  /**
   * The place of each `applied` offset. Absent in checkpoints written before places were recorded: such an
   * offset is compared as before (place unknown = same place), until the machine's next checkpoint.
   */
  appliedAt?: { readings?: RecordPlace; logs?: RecordPlace };
}

export interface WindowLimits {
  readonly window: number;
  readonly allowedLatenessMs: number;
  readonly logLookbackMs: number;
  readonly maxLogTokens: number;
  /** Bytes of log text held (see logBytes); absent: only the token budget applies. */
  readonly maxLogBytes?: number;
}

/** What a log costs against the byte budget: its words' UTF-16 length plus a fixed 16 for the entry. */
function logBytes(log: { words: readonly string[] }): number {
  let n = 16;
  for (const w of log.words) n += w.length;
  return n;
}

/**
 * The most recent words of one log that fit `maxBytes` (a single word larger than that keeps its end):
 * the byte bound on one log, as the token budget keeps its last words.
 */
function lastWordsWithin(words: readonly string[], maxBytes: number): readonly string[] {
  let room = maxBytes - 16;
  let from = words.length;
  while (from > 0 && words[from - 1]!.length <= room) room -= words[--from]!.length;
  if (from === words.length && from > 0) return [words[from - 1]!.slice(-Math.max(1, room))];
  return from === 0 ? words : words.slice(from);
}

export type ReadingOutcome =
  /** Newest reading and the window is full: score the window ending here. */
  | 'score'
  /** Accepted (late within lateness, or window not yet full): state changed, nothing to score. */
  | 'stored'
  | 'duplicate'
  | 'late';

export function newAlertState(): AlertState {
  return { state: 'clear', lastRaisedTs: undefined, lastClearedTs: undefined, recent: [] };
}

export function newMachineState(machineId: string): MachineState {
  return {
    machineId,
    readings: [],
    logs: [],
    alert: newAlertState(),
    lastScore: undefined,
    applied: { readings: -1, logs: -1 },
  };
}

export function newestTs(state: MachineState): number | undefined {
  return state.readings[state.readings.length - 1]?.ts;
}

/** Index of the first element with ts >= `ts` (binary search; arrays are sorted by ts). */
function lowerBound(items: readonly { ts: number }[], ts: number): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (items[mid]!.ts < ts) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Adds a reading in event-time order. A reading older than the newest by more than the allowed lateness
 * is `late`; the same ts twice is a `duplicate` (idempotent replays). Only a new newest reading with a full
 * window asks for a score: a late insert changes the window for later scores but does not re-score the
 * past, so every (machine, ts) is scored at most once.
 */
export function addReading(state: MachineState, reading: Reading, limits: WindowLimits): ReadingOutcome {
  const newest = newestTs(state);
  state.firstTs = Math.min(state.firstTs ?? state.readings[0]?.ts ?? reading.ts, reading.ts);
  if (newest === undefined || reading.ts > newest) {
    // The common case, a new newest reading: append and drop the oldest, no search and no splice.
    state.readings.push({ ts: reading.ts, values: reading.values });
    // One over the window is the rule once it is full: shift() drops it without the array splice returns.
    if (state.readings.length === limits.window + 1) state.readings.shift();
    else if (state.readings.length > limits.window)
      state.readings.splice(0, state.readings.length - limits.window);
    if (state.logs.length > 0) pruneLogs(state, limits);
    return state.readings.length === limits.window ? 'score' : 'stored';
  }
  if (reading.ts < newest - limits.allowedLatenessMs) return 'late';
  const at = lowerBound(state.readings, reading.ts);
  if (state.readings[at]?.ts === reading.ts) return 'duplicate';
  const oldest = state.readings[0]?.ts;
  if (state.readings.length >= limits.window && oldest !== undefined && reading.ts < oldest) return 'stored';
  state.readings.splice(at, 0, { ts: reading.ts, values: reading.values });
  if (state.readings.length > limits.window) state.readings.splice(0, state.readings.length - limits.window);
  pruneLogs(state, limits);
  return 'stored'; // a late insert: the window ending at the newest reading was scored already
}

/** Adds a tokenised log; keeps logs in event-time order and bounded by lookback and a token budget. */
export function addLog(
  state: MachineState,
  ts: number,
  words: readonly string[],
  limits: WindowLimits,
): 'stored' | 'duplicate' | 'late' {
  const newest = newestTs(state);
  if (newest !== undefined && ts <= newest - limits.logLookbackMs - limits.allowedLatenessMs) return 'late';
  // One log may not exceed the token budget by itself: keep its most recent words, as the text input's
  // pre-truncation would.
  const byTokens = words.length > limits.maxLogTokens ? words.slice(-limits.maxLogTokens) : words;
  const kept = limits.maxLogBytes === undefined ? byTokens : lastWordsWithin(byTokens, limits.maxLogBytes);
  const at = lowerBound(state.logs, ts);
  const same = state.logs[at];
  if (same && same.ts === ts && same.words.join(' ') === kept.join(' ')) return 'duplicate';
  state.logs.splice(at, 0, { ts, words: kept });
  pruneLogs(state, limits);
  return 'stored';
}

function pruneLogs(state: MachineState, limits: WindowLimits): void {
  const newest = newestTs(state);
  if (newest !== undefined) {
    // Keep what a late reading could still need: lookback plus the allowed lateness.
    const keepFrom = lowerBound(state.logs, newest - limits.logLookbackMs - limits.allowedLatenessMs + 1);
    if (keepFrom > 0) state.logs.splice(0, keepFrom);
  }
  // Each log costs at least one unit of the budget, so logs without a token ("!!! ???") are bounded too,
  // also before the machine's first reading (when the lookback cannot prune anything yet).
  const cost = (l: { words: readonly string[] }) => Math.max(1, l.words.length);
  let tokens = state.logs.reduce((n, l) => n + cost(l), 0);
  while (tokens > limits.maxLogTokens && state.logs.length > 1) tokens -= cost(state.logs.shift()!);
  // And by bytes: a budget of 2,000 tokens still lets 2,000 words of 64 KB each through.
  if (limits.maxLogBytes === undefined) return;
  let bytes = state.logs.reduce((n, l) => n + logBytes(l), 0);
  while (bytes > limits.maxLogBytes && state.logs.length > 1) bytes -= logBytes(state.logs.shift()!);
}

/** The words of the logs with ts in (t - lookback, t], oldest first: the text input for the window ending at t. */
export function wordsForWindow(state: MachineState, t: number, lookbackMs: number): string[] {
  const out: string[] = [];
  for (const log of state.logs) if (log.ts > t - lookbackMs && log.ts <= t) out.push(...log.words);
  return out;
}
