import type { MachineState, RecordPlace } from './machine';

/**
 * The decision journal (docs/semantics.md, "Delivery guarantees"): how the window ending at one reading was
 * decided, written to Redis before the alerts and scores of its batch are sent. Why: a crash between those
 * sends and the checkpoint re-delivers the reading, and scoring it again could decide otherwise (another
 * model version promoted meanwhile, or logs that arrived since) and publish an alert under another id. The
 * redelivery takes the journaled decision instead. The checkpoint that covers a reading removes its entry.
 */
export interface Decision {
  readonly machineId: string;
  /** The triggering reading: its place and offset (what makes it the same record), and its event time. */
  readonly place: RecordPlace;
  readonly offset: number;
  readonly ts: number;
  readonly modelVersion: string;
  readonly score: number;
  readonly threshold: number;
}

/** A place as one string (topic names and incarnations hold neither `|` nor `#`). */
export const placeKey = (p: RecordPlace | undefined): string =>
  p ? `${p.topic}|${p.partition}|${p.incarnation}` : '';

/** The journal's hash field of a reading: `<place>#<offset>` (the checkpoint script parses it back). */
export const decisionField = (place: RecordPlace, offset: number): string => `${placeKey(place)}#${offset}`;

/** The hash value: what the decision was. JSON numbers round-trip a float64 exactly. */
export const encodeDecision = (d: Decision): string =>
  JSON.stringify([d.ts, d.modelVersion, d.score, d.threshold]);

/** A journal entry back from Redis; undefined when it is not one (never fatal: that reading is re-scored). */
export function decodeDecision(machineId: string, field: string, value: string): Decision | undefined {
  const m = /^(.*)\|(\d+)\|(.*)#(\d+)$/.exec(field);
  if (!m) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  const [ts, modelVersion, score, threshold] = parsed as unknown[];
  if (
    typeof ts !== 'number' ||
    typeof modelVersion !== 'string' ||
    typeof score !== 'number' ||
    typeof threshold !== 'number'
  )
    return undefined;
  const place = { topic: m[1]!, partition: Number(m[2]), incarnation: m[3]! };
  return { machineId, place, offset: Number(m[4]), ts, modelVersion, score, threshold };
}

/**
 * Whether the machine's checkpoint already covers the decision's reading: the same readings place (or a
 * bookmark without one, taken as the same, as `redelivered` does) at or below its applied offset. Such a
 * reading is never applied again, so its entry is useless.
 */
export function covered(d: Decision, state: MachineState | undefined): boolean {
  if (!state) return false;
  const place = state.appliedAt?.readings;
  return (place === undefined || placeKey(place) === placeKey(d.place)) && d.offset <= state.applied.readings;
}

/**
 * Whether the entry stays once `state` is checkpointed: only a reading of the checkpoint's readings place
 * beyond its applied offset, one that a redelivery shorter than the first delivery has not reached yet.
 * Entries of another place go (another partition or a replay never redelivers them under this bookmark),
 * which bounds a journal to one batch of one place. The checkpoint script applies the same rule in Redis.
 */
export function outlives(d: Decision, state: MachineState): boolean {
  const place = state.appliedAt?.readings;
  return (place === undefined || placeKey(place) === placeKey(d.place)) && d.offset > state.applied.readings;
}

/**
 * The journaled decisions a worker holds for the machines it restored from a checkpoint, until they are
 * used (their readings come again) or covered by the next checkpoint. Empty but after a crash or a failed
 * batch: only machines whose journal held entries beyond their checkpoint are here.
 */
export class JournalMemory {
  private readonly byMachine = new Map<string, Map<string, Decision>>();

  /** Replaces what is held for the machine (a restore reads its journal afresh). */
  hold(machineId: string, decisions: readonly Decision[]): void {
    if (decisions.length === 0) this.byMachine.delete(machineId);
    else this.byMachine.set(machineId, new Map(decisions.map((d) => [decisionField(d.place, d.offset), d])));
  }

  /** The decision journaled for this reading, if any (the same place, offset and event time). */
  find(machineId: string, place: RecordPlace, offset: number, ts: number): Decision | undefined {
    const d = this.byMachine.get(machineId)?.get(decisionField(place, offset));
    return d?.ts === ts ? d : undefined;
  }

  /** After the machine's checkpoint: drops what it covers, as the checkpoint script did in Redis. */
  settle(state: MachineState): void {
    const held = this.byMachine.get(state.machineId);
    if (!held) return;
    for (const [field, d] of held) if (!outlives(d, state)) held.delete(field);
    if (held.size === 0) this.byMachine.delete(state.machineId);
  }

  /** Drops machines (dropped from memory: their journal is read again with their checkpoint). */
  forget(keep: (machineId: string) => boolean): void {
    for (const id of [...this.byMachine.keys()]) if (!keep(id)) this.byMachine.delete(id);
  }
}
