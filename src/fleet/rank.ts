import type { MachineState } from '../state';

/** The most `?top=` may ask for: a bound on the work one request can make a worker do. */
export const MAX_TOP = 1000;

/** One machine in the fleet view: its current risk and the alert it is under. */
export interface FleetEntry {
  readonly machineId: string;
  readonly score: number;
  readonly scoredTs: string;
  readonly modelVersion: string;
  readonly alert: 'raised' | 'clear';
  /** The latest transition of this machine's alert, if any. */
  readonly lastAlert: { readonly state: 'raised' | 'cleared'; readonly ts: string } | null;
  /** How many of the last scores reached the threshold (the k-of-n vote), and out of how many seen. */
  readonly recentAbove?: number;
}

/** What one worker answers to `GET /machines?top=N`. */
export interface FleetView {
  readonly modelVersion: string | null;
  readonly threshold: number | null;
  /** Records not yet processed on the partitions it owns, per topic. */
  readonly lag: Readonly<Record<string, number>>;
  /** Machines held in memory (owned partitions, not idle-evicted). */
  readonly tracked: number;
  readonly machines: readonly FleetEntry[];
}

const iso = (ms: number) => new Date(ms).toISOString();

/** A machine's fleet entry, or undefined while it has no score yet (no risk to rank). */
export function fleetEntry(state: MachineState, threshold: number | undefined): FleetEntry | undefined {
  const last = state.lastScore;
  if (!last) return undefined;
  const { lastRaisedTs, lastClearedTs } = state.alert;
  let lastAlert: FleetEntry['lastAlert'] = null;
  if (lastRaisedTs !== undefined && (lastClearedTs === undefined || lastRaisedTs > lastClearedTs))
    lastAlert = { state: 'raised', ts: iso(lastRaisedTs) };
  else if (lastClearedTs !== undefined) lastAlert = { state: 'cleared', ts: iso(lastClearedTs) };
  return {
    machineId: state.machineId,
    score: last.score,
    scoredTs: iso(last.ts),
    modelVersion: last.modelVersion,
    alert: state.alert.state,
    lastAlert,
    ...(threshold === undefined
      ? {}
      : { recentAbove: state.alert.recent.filter((s) => s >= threshold).length }),
  };
}

/**
 * Highest risk first: score descending; ties put a raised alert first, then machine id, so that the order is
 * total and two refreshes of an unchanged fleet print the same table. One entry per machine: when two
 * sources report the same machine (a rebalance moved it between workers), the later score wins.
 */
export function rankFleet(entries: Iterable<FleetEntry>, top: number): FleetEntry[] {
  const latest = new Map<string, FleetEntry>();
  for (const e of entries) {
    const seen = latest.get(e.machineId);
    if (!seen || Date.parse(e.scoredTs) > Date.parse(seen.scoredTs)) latest.set(e.machineId, e);
  }
  return [...latest.values()]
    .sort(
      (a, b) =>
        b.score - a.score ||
        Number(b.alert === 'raised') - Number(a.alert === 'raised') ||
        (a.machineId < b.machineId ? -1 : a.machineId > b.machineId ? 1 : 0),
    )
    .slice(0, top);
}

/** `?top=` → a count in [1, MAX_TOP], or a message for the 400. */
export function parseTop(raw: string | null): { top: number } | { error: string } {
  if (raw === null || !/^[1-9][0-9]{0,9}$/.test(raw))
    return { error: `top must be a positive integer, got ${JSON.stringify(raw ?? '')}` };
  const top = Number(raw);
  if (top > MAX_TOP) return { error: `top must be at most ${MAX_TOP}, got ${top}` };
  return { top };
}
