import type { Failure, LogEntry, Reading } from '../ingest';
import type { TimedValues } from '../state';
import { textToWordSequence } from '../tokenize';
import type { RawWindow } from './dataset';

/** Why a window is kept: near a failure (kept whole), or sampled into the per-bucket reservoir. */
export const NEAR = 1;
export const SAMPLE = 2;

/**
 * A run of consecutive readings of one machine's series (no reading between two of them was ever seen),
 * so a window ending at index i >= window - 1 is exactly the series' window. Values are raw (unscaled),
 * column order `MachineSamples.sensors`, NaN where a reading lacked that sensor.
 */
export interface Segment {
  ts: number[];
  values: Float32Array;
  /** Per reading: NEAR or SAMPLE when the window ending there is kept, else 0. */
  marks: Uint8Array;
}

export interface StoredLog {
  readonly ts: number;
  readonly text: string;
}

/**
 * What the store keeps of one machine. The last segment is the tail: the windows ending in it after
 * `decidedUntil` are pending (not yet known to be near a failure or not) and are all kept; once the
 * stream has moved `nearMs` past a window's end it is decided: NEAR, SAMPLE, or dropped later by the budget.
 */
export interface MachineSamples {
  readonly machineId: string;
  sensors: string[];
  firstSeenTs: number;
  /** The newest reading: the machine's stream is known up to here (labels are censored after it). */
  lastTs: number;
  decidedUntil: number;
  /** Readings that arrived older than `decidedUntil` (their windows were already decided): not stored. */
  lateReadings: number;
  failures: number[];
  logs: StoredLog[];
  segments: Segment[];
  /**
   * Reservoir candidates ever decided, per time bucket (floor(end / bucketMs)), counted before the budget
   * drops any: a kept reservoir window stands for seen / kept windows of its bucket (its importance weight).
   */
  seen: Map<number, number>;
  /** The bucket width `seen` was counted in; null for a record written before the counts existed. */
  seenBucketMs: number | null;
}

export interface StoreSpec {
  readonly window: number;
  readonly horizonMs: number;
  readonly logLookbackMs: number;
  readonly nearMs: number;
  /** The most of the budget near windows may take while the reservoir needs the rest (store.ts fitTo). */
  readonly nearShare: number;
  readonly bucketMs: number;
  readonly retentionMs: number;
}

/** A window as stored, with what featurisation may need beyond the readings and words of RawWindow. */
export interface StoredWindow extends RawWindow {
  /**
   * What extra input channels need beyond the readings and words (the shape of the features' window
   * context): the machine's first reading ever seen (a machine-age channel), and the newest log at or
   * before the window's end, however old (a time-since-last-log channel).
   */
  readonly context: { readonly firstTs: number | undefined; readonly lastLogTs: number | undefined };
  /** The logs of the window's lookback with their times (its words are theirs, oldest first). */
  readonly logs: readonly StoredLog[];
}

export function emptyMachine(machineId: string): MachineSamples {
  return {
    machineId,
    sensors: [],
    firstSeenTs: Infinity,
    lastTs: -Infinity,
    decidedUntil: -Infinity,
    lateReadings: 0,
    failures: [],
    logs: [],
    segments: [],
    seen: new Map(),
    seenBucketMs: null,
  };
}

/** Reading rows of a segment, for rebuilding it. */
interface Row {
  ts: number;
  values: Float32Array;
  mark: number;
}

function rowsOf(s: Segment, width: number): Row[] {
  return s.ts.map((ts, i) => ({
    ts,
    values: s.values.slice(i * width, (i + 1) * width),
    mark: s.marks[i]!,
  }));
}

function segmentOf(rows: readonly Row[], width: number): Segment {
  const values = new Float32Array(rows.length * width);
  rows.forEach((r, i) => values.set(r.values, i * width));
  return { ts: rows.map((r) => r.ts), values, marks: Uint8Array.from(rows, (r) => r.mark) };
}

function widenSensors(m: MachineSamples, names: Iterable<string>): void {
  const added = [...new Set(names)].filter((n) => !m.sensors.includes(n)).sort();
  if (added.length === 0) return;
  const [from, to] = [m.sensors.length, m.sensors.length + added.length];
  m.segments = m.segments.map((s) => {
    const values = new Float32Array(s.ts.length * to).fill(NaN);
    for (let i = 0; i < s.ts.length; i++) values.set(s.values.subarray(i * from, (i + 1) * from), i * to);
    return { ...s, values };
  });
  m.sensors = [...m.sensors, ...added];
}

/** Merges fresh records of this machine; readings older than its decided windows are counted, not stored. */
export function mergeFresh(
  m: MachineSamples,
  readings: readonly Reading[],
  logs: readonly LogEntry[],
  failures: readonly Failure[],
): void {
  widenSensors(
    m,
    readings.flatMap((r) => Object.keys(r.values)),
  );
  const width = m.sensors.length;
  const tail = m.segments.pop();
  const rows = tail ? rowsOf(tail, width) : [];
  const seen = new Set(rows.map((r) => r.ts));
  for (const r of readings) {
    if (r.ts <= m.decidedUntil) {
      if (!seen.has(r.ts)) m.lateReadings++;
      continue;
    }
    if (seen.has(r.ts)) continue; // a duplicate (a re-read after a crash, or a producer retry)
    seen.add(r.ts);
    rows.push({ ts: r.ts, values: Float32Array.from(m.sensors, (s) => r.values[s] ?? NaN), mark: 0 });
    m.firstSeenTs = Math.min(m.firstSeenTs, r.ts);
    m.lastTs = Math.max(m.lastTs, r.ts);
  }
  rows.sort((a, b) => a.ts - b.ts);
  if (rows.length) m.segments.push(segmentOf(rows, width));
  const logKey = (l: StoredLog) => `${l.ts}\u0000${l.text}`;
  const logSeen = new Set(m.logs.map(logKey));
  for (const l of logs) {
    const entry = { ts: l.ts, text: l.text };
    if (logSeen.has(logKey(entry))) continue;
    logSeen.add(logKey(entry));
    m.logs.push(entry);
  }
  m.logs.sort((a, b) => a.ts - b.ts);
  m.failures = [...new Set([...m.failures, ...failures.map((f) => f.ts)])].sort((a, b) => a - b);
}

function nearestFailure(failures: readonly number[], r: number): number {
  let best = Infinity;
  for (const f of failures) best = Math.min(best, Math.abs(f - r));
  return best;
}

/**
 * Decides the tail's windows that the stream has passed by `nearMs`: a failure within `nearMs` of the end
 * (before or after) makes it NEAR; the others become reservoir candidates. Windows older than the
 * retention are dropped.
 */
export function decide(m: MachineSamples, spec: StoreSpec): void {
  if (m.seenBucketMs !== spec.bucketMs) reseedSeen(m, spec);
  const tail = m.segments[m.segments.length - 1];
  if (tail) {
    for (let i = spec.window - 1; i < tail.ts.length; i++) {
      const r = tail.ts[i]!;
      if (r <= m.decidedUntil) continue;
      if (r > m.lastTs - spec.nearMs) break;
      const near = nearestFailure(m.failures, r) <= spec.nearMs;
      tail.marks[i] = near ? NEAR : SAMPLE;
      if (!near) m.seen.set(bucketOf(r, spec), (m.seen.get(bucketOf(r, spec)) ?? 0) + 1);
      m.decidedUntil = r;
    }
  }
  const cutoff = m.lastTs - spec.retentionMs;
  for (const s of m.segments)
    s.ts.forEach((r, i) => {
      if (r < cutoff) s.marks[i] = 0;
    });
  // A bucket wholly past the retention holds no window any more. (One the cutoff cuts through keeps its
  // count, so its remaining windows weigh a little more than they should until it ages out.)
  for (const b of m.seen.keys()) if ((b + 1) * spec.bucketMs <= cutoff) m.seen.delete(b);
}

const bucketOf = (ts: number, spec: StoreSpec) => Math.floor(ts / spec.bucketMs);

/** Kept reservoir windows per time bucket. */
function keptPerBucket(m: MachineSamples, spec: StoreSpec): Map<number, number> {
  const kept = new Map<number, number>();
  for (const s of m.segments)
    s.marks.forEach((mark, i) => {
      if (mark !== SAMPLE) return;
      const b = bucketOf(s.ts[i]!, spec);
      kept.set(b, (kept.get(b) ?? 0) + 1);
    });
  return kept;
}

/**
 * Counts what the record holds as all there was: for a record written before the counts existed (or in
 * other buckets), whose dropped windows cannot be counted any more. Its reservoir windows then weigh 1,
 * the bias this corrects for the windows decided from now on; reported by the store's load().
 */
export function reseedSeen(m: MachineSamples, spec: StoreSpec): void {
  m.seen = keptPerBucket(m, spec);
  m.seenBucketMs = spec.bucketMs;
}

/**
 * Importance weight of a kept reservoir window per time bucket: candidates seen / windows kept (≥ 1), the
 * inverse of its inclusion probability in its (machine, bucket) stratum. A tight budget can leave a bucket
 * with none kept (the reservoir keeps blocks of a horizon's windows): its candidates are then counted in the
 * nearest bucket in time that kept some (strata collapsed), so the weights still add up to every candidate
 * the machine had and the time split sees them about where they were. Near and pending windows are all
 * kept: weight 1.
 */
export function reservoirWeights(m: MachineSamples, spec: StoreSpec): Map<number, number> {
  const kept = keptPerBucket(m, spec);
  const seen = new Map([...kept].map(([b, k]) => [b, Math.max(k, m.seen.get(b) ?? k)]));
  const buckets = [...kept.keys()];
  for (const [b, count] of m.seen) {
    if (kept.has(b) || buckets.length === 0) continue;
    const nearest = buckets.reduce((x, y) => (Math.abs(y - b) < Math.abs(x - b) ? y : x));
    seen.set(nearest, seen.get(nearest)! + count);
  }
  return new Map([...kept].map(([b, k]) => [b, seen.get(b)! / k]));
}

/** A kept, decided window: where it ends. */
interface Kept {
  readonly segment: number;
  readonly index: number;
  readonly ts: number;
}

/** FNV-1a of (machine, a block or bucket): a deterministic reservoir priority. */
function priority(machineId: string, what: string): number {
  let h = 0x811c9dc5;
  const text = `${machineId}|${what}`;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * The near windows' keep order: the windows a failure follows within the horizon (the positives) first,
 * newest first, so a capped machine keeps whole failures, the most recent ones; then the other near windows
 * (the horizons before a positive run and after a failure), closest to a failure first, newest first among
 * equals.
 */
function byNearPriority(a: NearKept, b: NearKept): number {
  if (a.positive !== b.positive) return a.positive ? -1 : 1;
  return (a.positive ? 0 : a.d - b.d) || b.ts - a.ts;
}

interface NearKept extends Kept {
  /** A failure follows within the horizon. */
  readonly positive: boolean;
  /** Distance to the nearest failure. */
  readonly d: number;
}

/**
 * The order in which decided windows are kept when bytes run short (keeping the first k). NEAR: see
 * byNearPriority. SAMPLE: in blocks of consecutive windows one horizon long — an isolated window costs a
 * whole window of readings, a block of b windows only b + window - 1 — taken round-robin over the time
 * buckets (each bucket's next block by a hashed priority, the buckets in a hashed order), so every bucket
 * gets a block before any gets a second.
 */
export function keepOrder(m: MachineSamples, spec: StoreSpec): { near: Kept[]; sample: Kept[] } {
  const near: NearKept[] = [];
  const buckets = new Map<number, Map<number, Kept[]>>();
  m.segments.forEach((s, segment) =>
    s.marks.forEach((mark, index) => {
      const ts = s.ts[index]!;
      if (mark === NEAR) {
        const next = m.failures.find((f) => f > ts);
        const positive = next !== undefined && next - ts <= spec.horizonMs;
        near.push({ segment, index, ts, positive, d: nearestFailure(m.failures, ts) });
      } else if (mark === SAMPLE) {
        const bucket = bucketOf(ts, spec);
        const block = Math.floor(ts / spec.horizonMs);
        const blocks = buckets.get(bucket) ?? new Map<number, Kept[]>();
        buckets.set(bucket, blocks);
        const list = blocks.get(block) ?? [];
        list.push({ segment, index, ts });
        blocks.set(block, list);
      }
    }),
  );
  near.sort(byNearPriority);
  const ranked: (Kept & { rank: number; p: number })[] = [];
  for (const [bucket, blocks] of buckets) {
    const p = priority(m.machineId, `bucket ${bucket}`);
    [...blocks]
      .sort((a, b) => priority(m.machineId, `block ${b[0]}`) - priority(m.machineId, `block ${a[0]}`))
      .forEach(([, list], rank) => {
        for (const k of list) ranked.push({ ...k, rank, p });
      });
  }
  ranked.sort((a, b) => a.rank - b.rank || b.p - a.p || a.ts - b.ts);
  return { near, sample: ranked };
}

/** The readings each segment must keep for its kept (and, in the tail, pending and future) windows. */
function neededMasks(m: MachineSamples, keep: ReadonlySet<string> | null, spec: StoreSpec): Uint8Array[] {
  const T = spec.window;
  return m.segments.map((s, si) => {
    const n = s.ts.length;
    const need = new Uint8Array(n);
    for (let i = T - 1; i < n; i++) {
      if (!s.marks[i] || (keep && !keep.has(`${si}:${i}`))) continue;
      need.fill(1, i - T + 1, i + 1);
    }
    if (si === m.segments.length - 1) {
      let firstPending = n;
      for (let i = T - 1; i < n; i++)
        if (s.ts[i]! > m.decidedUntil) {
          firstPending = i;
          break;
        }
      need.fill(1, Math.max(0, firstPending - T + 1), n);
    }
    return need;
  });
}

/** Index of the first log with ts > t (logs are sorted by time). */
function firstLogAfter(logs: readonly StoredLog[], t: number): number {
  let [lo, hi] = [0, logs.length];
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (logs[mid]!.ts > t) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Logs a kept window can need: those in its lookback, and the newest at or before its end. */
function neededLogs(m: MachineSamples, ends: readonly number[], spec: StoreSpec): boolean[] {
  const keep = m.logs.map((l) => l.ts > m.decidedUntil - spec.logLookbackMs);
  const newestAtOrBefore = firstLogAfter(m.logs, m.decidedUntil - spec.logLookbackMs) - 1;
  if (newestAtOrBefore >= 0) keep[newestAtOrBefore] = true;
  // A difference array over the lookback ranges: O(ends · log(logs) + logs), not ends × logs.
  const cover = new Int32Array(m.logs.length + 1);
  for (const r of ends) {
    const [from, to] = [firstLogAfter(m.logs, r - spec.logLookbackMs), firstLogAfter(m.logs, r)];
    cover[from]!++;
    cover[to]!--;
    if (to > 0) keep[to - 1] = true;
  }
  let depth = 0;
  for (let k = 0; k < m.logs.length; k++) {
    depth += cover[k]!;
    if (depth > 0) keep[k] = true;
  }
  return keep;
}

/** Encoded bytes of one segment of n readings (see store-codec.ts). */
export const segmentBytes = (n: number, sensors: number) => 4 + 1 + 8 + 4 * (n - 1) + 4 * n * sensors + n;
export const logBytes = (l: StoredLog) => 12 + Buffer.byteLength(l.text);

function keepSet(order: { near: Kept[]; sample: Kept[] }, nearCap: number, sampleCap: number): Set<string> {
  return new Set(
    [...order.near.slice(0, nearCap), ...order.sample.slice(0, sampleCap)].map(
      (k) => `${k.segment}:${k.index}`,
    ),
  );
}

function runsOf(need: Uint8Array): [number, number][] {
  const runs: [number, number][] = [];
  for (let i = 0; i < need.length; i++) {
    if (!need[i]) continue;
    let j = i;
    while (j + 1 < need.length && need[j + 1]) j++;
    runs.push([i, j + 1]);
    i = j;
  }
  return runs;
}

/** Bytes of the variable part (segments and logs) if only the first caps of each kind were kept. */
export function bytesWithCaps(
  m: MachineSamples,
  order: { near: Kept[]; sample: Kept[] },
  caps: { near: number; sample: number },
  spec: StoreSpec,
): number {
  const keep = keepSet(order, caps.near, caps.sample);
  let bytes = 4;
  for (const need of neededMasks(m, keep, spec))
    for (const [a, b] of runsOf(need)) bytes += segmentBytes(b - a, m.sensors.length);
  const ends = [...order.near.slice(0, caps.near), ...order.sample.slice(0, caps.sample)].map((k) => k.ts);
  const logs = neededLogs(m, ends, spec);
  bytes += 4;
  m.logs.forEach((l, k) => (bytes += logs[k] ? logBytes(l) : 0));
  return bytes;
}

/** Keeps only the first caps of each kind, and drops every reading and log no kept window needs. */
export function applyCaps(
  m: MachineSamples,
  order: { near: Kept[]; sample: Kept[] },
  caps: { near: number; sample: number } | null,
  spec: StoreSpec,
): { near: number; sample: number } {
  const keep = caps ? keepSet(order, caps.near, caps.sample) : null;
  const dropped = {
    near: caps ? Math.max(0, order.near.length - caps.near) : 0,
    sample: caps ? Math.max(0, order.sample.length - caps.sample) : 0,
  };
  const width = m.sensors.length;
  const masks = neededMasks(m, keep, spec);
  const segments: Segment[] = [];
  m.segments.forEach((s, si) => {
    const rows = rowsOf(s, width).map((r, i) => ({
      ...r,
      mark: r.mark && (!keep || keep.has(`${si}:${i}`)) ? r.mark : 0,
    }));
    for (const [a, b] of runsOf(masks[si]!)) {
      // A window needs its readings inside the same run; marks too close to a run's start have none.
      const run = rows.slice(a, b).map((r, i) => (i < spec.window - 1 ? { ...r, mark: 0 } : r));
      segments.push(segmentOf(run, width));
    }
  });
  m.segments = segments;
  const ends = segments.flatMap((s) => s.ts.filter((_, i) => s.marks[i]));
  const logs = neededLogs(m, ends, spec);
  m.logs = m.logs.filter((_, k) => logs[k]);
  const oldest = ends.reduce((a, b) => Math.min(a, b), m.decidedUntil);
  m.failures = m.failures.filter((f) => f > oldest - spec.nearMs);
  return dropped;
}

/** The label of a window ending at r (docs/semantics.md "Labels"); undefined = censored. */
export function labelAt(m: MachineSamples, r: number, horizonMs: number): 0 | 1 | undefined {
  const next = m.failures.find((f) => f > r);
  if (next !== undefined && next <= r + horizonMs) return 1;
  if (m.lastTs >= r + horizonMs) return 0;
  return undefined;
}

export interface MachineWindows {
  readonly windows: StoredWindow[];
  readonly censored: number;
  readonly kinds: { near: number; sample: number; pending: number };
}

type Kind = 'near' | 'sample' | 'pending';

/** Calls back for every kept and pending window end of the machine. */
function forEachWindow(
  m: MachineSamples,
  spec: StoreSpec,
  each: (s: Segment, i: number, kind: Kind) => void,
): void {
  const tailIndex = m.segments.length - 1;
  m.segments.forEach((s, si) => {
    for (let i = spec.window - 1; i < s.ts.length; i++) {
      if (si === tailIndex && s.ts[i]! > m.decidedUntil) each(s, i, 'pending');
      else if (s.marks[i]) each(s, i, s.marks[i] === NEAR ? 'near' : 'sample');
    }
  });
}

export function kindsOf(m: MachineSamples, spec: StoreSpec): Record<Kind, number> {
  const kinds = { near: 0, sample: 0, pending: 0 };
  forEachWindow(m, spec, (_s, _i, kind) => kinds[kind]++);
  return kinds;
}

/** Every kept and pending window of the machine, labelled now (so late failures and later readings count). */
export function windowsOf(m: MachineSamples, spec: StoreSpec): { windows: StoredWindow[]; censored: number } {
  const T = spec.window;
  const out: StoredWindow[] = [];
  let censored = 0;
  const weights = reservoirWeights(m, spec);
  forEachWindow(m, spec, (s, i, kind) => {
    const r = s.ts[i]!;
    const label = labelAt(m, r, spec.horizonMs);
    if (label === undefined) {
      censored++;
      return;
    }
    const readings: TimedValues[] = [];
    for (let j = i - T + 1; j <= i; j++) {
      const values: Record<string, number> = {};
      m.sensors.forEach((name, c) => {
        const v = s.values[j * m.sensors.length + c]!;
        if (!Number.isNaN(v)) values[name] = v;
      });
      readings.push({ ts: s.ts[j]!, values });
    }
    const upTo = firstLogAfter(m.logs, r);
    const logs = m.logs.slice(firstLogAfter(m.logs, r - spec.logLookbackMs), upTo);
    out.push({
      machineId: m.machineId,
      endTs: r,
      readings,
      words: logs.flatMap((l) => textToWordSequence(l.text)),
      label,
      context: {
        firstTs: Number.isFinite(m.firstSeenTs) ? m.firstSeenTs : undefined,
        lastLogTs: m.logs[upTo - 1]?.ts,
      },
      logs,
      ...(kind === 'sample' ? { weight: weights.get(bucketOf(r, spec)) ?? 1 } : {}),
    });
  });
  return { windows: out, censored };
}
