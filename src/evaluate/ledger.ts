/**
 * The live evaluation's bookkeeping, pure (no I/O): raised alerts and failures per machine, joined in event
 * time, decided once, pruned after the retention. docs/evaluation.md states the rules; in short, for a
 * horizon H (PDM_HORIZON, the label's):
 *
 * - an alert raised at a (model version v) is a true alarm when its machine fails at f with a < f ≤ a + H,
 *   a false alarm when the machine's readings pass a + H + grace with no such failure;
 * - a failure at f is detected by every version that raised on that machine at a with f − H ≤ a < f (lead
 *   time f − the earliest such a), else missed (charged to the version serving when it is decided); it is
 *   decided when the machine's readings pass f + grace.
 *
 * "Decided" also waits for the gate the caller passes to decide(): the reading that passed the deadline
 * (its partition and offset) must have been processed by the worker, so every alert it could have raised
 * before the deadline is already on the alerts topic. A failure of a machine with no reading is written off
 * as an unknown machine only once every readings partition has passed f + grace or been read to its end:
 * the machine's readings may sit on a partition this evaluator has not read yet. Each record is decided exactly once and deduplicated by
 * alertId and by (machine, failure ts), so a redelivered record or a duplicate failure never counts twice.
 */

import { alertId, applyScore } from '../alerts';
import type { AlertPolicy } from '../alerts';
import type { AlertState } from '../state';

/** Where a reading sits on the readings topic: the gate compares it with the worker's committed offset. */
export interface Position {
  readonly partition: number;
  readonly offset: number;
}

/** What decide() may rely on at a tick: the worker's progress and this evaluator's on the readings topic. */
export interface DecisionGate {
  /** The worker has processed the reading at `due`: every alert it could raise up to it is on the alerts topic. */
  processed(due: Position): boolean;
  /** The readings partitions holding records this evaluator has not read yet. */
  readonly unreadPartitions: readonly number[];
}

export interface AlertRecord {
  readonly id: string;
  readonly ts: number;
  readonly version: string;
  outcome: 'pending' | 'true' | 'false';
  /** The reading that passed this alert's deadline (a + H + grace), once one has. */
  due?: Position;
}

export interface FailureRecord {
  readonly ts: number;
  decided: boolean;
  /** The reading that passed this failure's deadline (f + grace), once one has. */
  due?: Position;
}

/**
 * A shadow version's alert state on one machine: the worker's alert policy replayed on the shadow's scores
 * (they never reach the alerts topic), and the newest score applied, so a redelivered score is not voted twice.
 */
export interface ShadowAlertState extends AlertState {
  lastTs: number;
}

export interface MachineLedger {
  readonly machineId: string;
  /** Per shadow version (champion/challenger): its would-be alert state on this machine. */
  shadow?: Record<string, ShadowAlertState>;
  /** Event time of the first and the newest reading seen (undefined: no reading, an unknown machine so far). */
  firstTs?: number;
  lastTs?: number;
  lastAt?: Position;
  alerts: AlertRecord[];
  failures: FailureRecord[];
}

export type IgnoredReason = 'invalid' | 'duplicate' | 'too_old' | 'unknown_machine' | 'censored';

export type LedgerEvent =
  | { readonly kind: 'detected'; readonly version: string; readonly leadMs: number }
  | { readonly kind: 'missed'; readonly version: string }
  | { readonly kind: 'true_alarm'; readonly version: string }
  | { readonly kind: 'false_alarm'; readonly version: string }
  | { readonly kind: 'exposure'; readonly version: string; readonly ms: number }
  | {
      readonly kind: 'ignored';
      readonly topic: 'alerts' | 'failures' | 'scores';
      readonly reason: IgnoredReason;
    };

export interface LedgerOptions {
  readonly horizonMs: number;
  readonly graceMs: number;
  readonly retentionMs: number;
}

export interface RaisedAlert {
  readonly alertId: string;
  readonly machineId: string;
  readonly ts: number;
  readonly modelVersion: string;
}

/** The version charged with misses and exposure when no model is registered yet. */
export const NO_VERSION = 'none';

export class Ledger {
  private readonly machines = new Map<string, MachineLedger>();
  /** The newest reading's event time over the fleet: the clock of retention and unknown machines. */
  private globalTs = -Infinity;
  /**
   * The newest reading's event time per readings partition. Not stored: after a restart a partition's clock
   * comes back with its next reading, and until then the partition holds unknown-machine decisions only
   * while it has records left to read.
   */
  private readonly partitionTs = new Map<number, number>();
  /** Machines changed since the last takeChanges(), and machines evicted (to delete from the store). */
  private readonly dirty = new Set<string>();
  private readonly evicted = new Set<string>();

  constructor(private readonly opts: LedgerOptions) {}

  /** Restores the persisted state (store.ts). */
  restore(machines: Iterable<MachineLedger>, globalTs: number): void {
    for (const m of machines) this.machines.set(m.machineId, m);
    this.globalTs = globalTs;
  }

  get clock(): number {
    return this.globalTs;
  }

  get size(): number {
    return this.machines.size;
  }

  /** Pending alerts and failures (not yet decided), for a gauge. */
  pending(): { alerts: number; failures: number } {
    let alerts = 0;
    let failures = 0;
    for (const m of this.machines.values()) {
      alerts += m.alerts.filter((a) => a.outcome === 'pending').length;
      failures += m.failures.filter((f) => !f.decided).length;
    }
    return { alerts, failures };
  }

  /** The machines to write and to delete since the last call. */
  takeChanges(): { changed: MachineLedger[]; evicted: string[] } {
    const changed = [...this.dirty]
      .map((id) => this.machines.get(id))
      .filter((m): m is MachineLedger => m !== undefined);
    const evicted = [...this.evicted];
    this.dirty.clear();
    this.evicted.clear();
    return { changed, evicted };
  }

  private machine(machineId: string): MachineLedger {
    let m = this.machines.get(machineId);
    if (!m) {
      m = { machineId, alerts: [], failures: [] };
      this.machines.set(machineId, m);
      this.evicted.delete(machineId);
    }
    this.dirty.add(machineId);
    return m;
  }

  /**
   * A reading advances its machine's clock (and the exposure of the evaluated versions: the serving one and
   * the shadow, if any) and may make records due.
   */
  reading(machineId: string, ts: number, at: Position, evaluated: string | readonly string[]): LedgerEvent[] {
    this.partitionTs.set(at.partition, Math.max(this.partitionTs.get(at.partition) ?? -Infinity, ts));
    const m = this.machine(machineId);
    const events: LedgerEvent[] = [];
    if (m.lastTs !== undefined && ts <= m.lastTs) return events; // older or re-delivered: the clock does not move
    if (m.lastTs !== undefined)
      for (const version of typeof evaluated === 'string' ? [evaluated] : evaluated)
        events.push({ kind: 'exposure', version, ms: ts - m.lastTs });
    m.firstTs ??= ts;
    m.lastTs = ts;
    m.lastAt = at;
    this.globalTs = Math.max(this.globalTs, ts);
    this.markDue(m);
    return events;
  }

  /** A `raised` alert. Duplicates (same alertId) and alerts older than the retention are ignored and counted. */
  alert(alert: RaisedAlert): LedgerEvent[] {
    if (alert.ts < this.globalTs - this.opts.retentionMs)
      return [{ kind: 'ignored', topic: 'alerts', reason: 'too_old' }];
    const m = this.machine(alert.machineId);
    if (m.alerts.some((a) => a.id === alert.alertId))
      return [{ kind: 'ignored', topic: 'alerts', reason: 'duplicate' }];
    const record: AlertRecord = {
      id: alert.alertId,
      ts: alert.ts,
      version: alert.modelVersion,
      outcome: 'pending',
    };
    m.alerts.push(record);
    if (m.failures.some((f) => this.inHorizon(record.ts, f.ts))) {
      record.outcome = 'true';
      return [{ kind: 'true_alarm', version: record.version }];
    }
    this.markDue(m);
    return [];
  }

  /**
   * A score of a shadow version (the scores topic, `role: "shadow"`): the same alert policy the worker
   * applies (src/alerts, with the shadow's threshold) decides its would-be raises, which then enter the
   * ledger like published alerts, under the shadow's version and with the id the worker would give them.
   * Scores at or before the newest applied one for that machine and version are duplicates (a redelivery).
   */
  shadowScore(
    machineId: string,
    version: string,
    ts: number,
    score: number,
    policy: AlertPolicy,
  ): LedgerEvent[] {
    const m = this.machine(machineId);
    const states = (m.shadow ??= {});
    const state = (states[version] ??= {
      state: 'clear',
      lastRaisedTs: undefined,
      lastClearedTs: undefined,
      recent: [],
      lastTs: -Number.MAX_VALUE,
    });
    if (ts <= state.lastTs) return [{ kind: 'ignored', topic: 'scores', reason: 'duplicate' }];
    state.lastTs = ts;
    if (applyScore(state, score, ts, policy) !== 'raised') return [];
    return this.alert({
      alertId: alertId(machineId, ts, version, 'raised'),
      machineId,
      ts,
      modelVersion: version,
    });
  }

  /** A labelled failure. Duplicates (same machine and ts) and failures older than the retention are ignored and counted. */
  failure(machineId: string, ts: number): LedgerEvent[] {
    if (ts < this.globalTs - this.opts.retentionMs)
      return [{ kind: 'ignored', topic: 'failures', reason: 'too_old' }];
    const m = this.machine(machineId);
    if (m.failures.some((f) => f.ts === ts))
      return [{ kind: 'ignored', topic: 'failures', reason: 'duplicate' }];
    m.failures.push({ ts, decided: false });
    const events: LedgerEvent[] = [];
    for (const a of m.alerts) {
      if (a.outcome === 'pending' && this.inHorizon(a.ts, ts)) {
        a.outcome = 'true';
        events.push({ kind: 'true_alarm', version: a.version });
      }
    }
    this.markDue(m);
    return events;
  }

  /**
   * Decides every record whose deadline has passed and whose gate is open; ignores failures of machines that
   * never sent a reading once no readings partition can still hold one before f + grace (see
   * `noReadingBefore`); prunes and evicts what the retention no longer needs. `servingVersion` is charged
   * with the misses, and so is `shadowVersion` (when one is evaluated) with each failure it did not detect;
   * shadow alert states of other versions are dropped.
   */
  decide(gate: DecisionGate, servingVersion: string, shadowVersion?: string): LedgerEvent[] {
    const events: LedgerEvent[] = [];
    const { horizonMs, graceMs, retentionMs } = this.opts;
    for (const m of this.machines.values()) {
      let changed = false;
      for (const a of m.alerts) {
        if (a.outcome !== 'pending') continue;
        if (a.due && gate.processed(a.due)) {
          a.outcome = 'false';
          events.push({ kind: 'false_alarm', version: a.version });
          changed = true;
        }
      }
      for (const f of m.failures) {
        if (f.decided) continue;
        if (m.lastTs === undefined && this.noReadingBefore(f.ts + graceMs, gate)) {
          f.decided = true;
          events.push({ kind: 'ignored', topic: 'failures', reason: 'unknown_machine' });
          changed = true;
        } else if (f.due && gate.processed(f.due)) {
          f.decided = true;
          events.push(...this.judgeFailure(m, f.ts, servingVersion, shadowVersion));
          changed = true;
        }
      }
      for (const version of Object.keys(m.shadow ?? {}))
        if (version !== shadowVersion && m.shadow) {
          delete m.shadow[version];
          changed = true;
        }
      // Records that can no longer be decided (the machine went silent before their deadline) leave with the retention.
      const expired = (ts: number) => ts < this.globalTs - retentionMs - horizonMs;
      const censoredAlerts = m.alerts.filter((a) => a.outcome === 'pending' && expired(a.ts)).length;
      const censoredFailures = m.failures.filter((f) => !f.decided && expired(f.ts)).length;
      for (let i = 0; i < censoredFailures; i++)
        events.push({ kind: 'ignored', topic: 'failures', reason: 'censored' });
      for (let i = 0; i < censoredAlerts; i++)
        events.push({ kind: 'ignored', topic: 'alerts', reason: 'censored' });
      const before = m.alerts.length + m.failures.length;
      m.alerts = m.alerts.filter((a) => !expired(a.ts));
      m.failures = m.failures.filter((f) => !expired(f.ts));
      if (changed || m.alerts.length + m.failures.length !== before) this.dirty.add(m.machineId);
      if (
        m.alerts.length === 0 &&
        m.failures.length === 0 &&
        (m.lastTs ?? -Infinity) < this.globalTs - retentionMs
      ) {
        this.machines.delete(m.machineId);
        this.dirty.delete(m.machineId);
        this.evicted.add(m.machineId);
      }
    }
    return events;
  }

  private judgeFailure(
    m: MachineLedger,
    failureTs: number,
    servingVersion: string,
    shadowVersion: string | undefined,
  ): LedgerEvent[] {
    const earliest = new Map<string, number>();
    for (const a of m.alerts) {
      if (!this.inHorizon(a.ts, failureTs)) continue;
      earliest.set(a.version, Math.min(earliest.get(a.version) ?? Infinity, a.ts));
    }
    const events: LedgerEvent[] = [];
    // The serving side (any version that served, as before) and the shadow are judged apart: a shadow's
    // detection does not excuse the champion, nor the champion's the shadow.
    if (![...earliest.keys()].some((v) => v !== shadowVersion))
      events.push({ kind: 'missed', version: servingVersion });
    if (shadowVersion !== undefined && shadowVersion !== servingVersion && !earliest.has(shadowVersion))
      events.push({ kind: 'missed', version: shadowVersion });
    for (const [version, ts] of earliest) events.push({ kind: 'detected', version, leadMs: failureTs - ts });
    return events;
  }

  /**
   * Whether every reading up to `deadline` of a machine not seen so far would have been read by now: the
   * fleet's clock has passed it and so has each readings partition with records still unread. The fleet's
   * clock alone is not enough: partitions are read in any order, so it can pass the deadline on one
   * partition while the machine's readings wait unread on another (a failure then written off for good).
   */
  private noReadingBefore(deadline: number, gate: DecisionGate): boolean {
    return (
      this.globalTs >= deadline &&
      gate.unreadPartitions.every((p) => (this.partitionTs.get(p) ?? -Infinity) >= deadline)
    );
  }

  /** The label's horizon: a window (or alert) at a is followed by a failure at f iff a < f ≤ a + H. */
  private inHorizon(alertTs: number, failureTs: number): boolean {
    return alertTs < failureTs && failureTs <= alertTs + this.opts.horizonMs;
  }

  private markDue(m: MachineLedger): void {
    if (m.lastTs === undefined || !m.lastAt) return;
    const { horizonMs, graceMs } = this.opts;
    for (const a of m.alerts)
      if (a.outcome === 'pending' && !a.due && m.lastTs >= a.ts + horizonMs + graceMs) a.due = m.lastAt;
    for (const f of m.failures) if (!f.decided && !f.due && m.lastTs >= f.ts + graceMs) f.due = m.lastAt;
  }
}
