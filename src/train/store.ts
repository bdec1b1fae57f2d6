import type { Config } from '../config';
import { ConfigError } from '../errors';
import type { Failure, LogEntry, Reading } from '../ingest';
import type { Logger } from '../log';
import { keyLayout } from '../redis/keys';
import type { RedisClient } from '../redis/types';
import type { DatasetSummary } from './dataset';
import { readLegacySamples } from './samples';
import { readTopicsToEnd } from './source';
import type { Offsets, TopicSnapshot } from './source';
import { decodeMachine, encodeMachine, encodeMachineRaw } from './store-codec';
import {
  applyCaps,
  bytesWithCaps,
  decide,
  emptyMachine,
  keepOrder,
  kindsOf,
  mergeFresh,
  reseedSeen,
  windowsOf,
} from './store-machine';
import type { MachineSamples, StoredWindow, StoreSpec } from './store-machine';

const FORMAT = 1;
const META = 'meta';
const field = (machineId: string) => `m:${machineId}`;

/** What the store holds after a round: in the `pdm train --once` summary and the trainer's gauges. */
export interface StoreReport {
  readonly bytes: number;
  readonly budgetBytes: number;
  readonly machines: number;
  readonly readings: number;
  readonly logs: number;
  readonly failures: number;
  /** Windows kept: near a failure, in the reservoir, and not yet decided (the last `near` span). */
  readonly windows: { near: number; sample: number; pending: number };
  /** Decided windows given up this round to stay within the budget. */
  readonly dropped: { near: number; sample: number };
  /** Per-machine caps the budget imposed this round (null: none). */
  readonly caps: { near: number | null; sample: number | null };
  readonly lateReadings: number;
  /** Converted from the older gzipped-JSON store this round. */
  readonly migrated: boolean;
}

export function storeSpec(config: Config): StoreSpec {
  return {
    window: config.model.window,
    horizonMs: config.horizonMs,
    logLookbackMs: config.logLookbackMs,
    nearMs: config.training.store.nearHorizons * config.horizonMs,
    nearShare: config.training.store.nearShare,
    bucketMs: config.training.store.bucketMs,
    retentionMs: config.training.sampleRetentionMs,
  };
}

/**
 * The trainer's bounded, stratified sample store: per machine, the raw readings (float32) of every window
 * within `near` horizons of a failure, a reservoir of the other windows per time bucket, the windows not
 * yet decided, and the logs and failures those need — one binary record per machine in a Redis hash,
 * with the topic offsets where reading stopped. Labels are not stored: each round labels the windows from
 * the stored failures and the machine's newest reading, so a label decided only after the horizon comes
 * out right (censored until then). The record set and the offsets are written in one MULTI, so a trainer
 * restart re-reads at most one round's records, and duplicates are dropped by (machine, ts).
 */
export class TrainStore {
  private readonly machines = new Map<string, MachineSamples>();
  private readonly sizes = new Map<string, number>();
  /** Records changed this round, encoded once for both the budget and the write. */
  private readonly encoded = new Map<string, Buffer>();
  private readonly dirty = new Set<string>();
  private offsets: Offsets = {};
  private reset = false;
  /** Unreadable records found by load(), deleted by the next save(). */
  private readonly dropField: string[] = [];
  private migrated = false;
  private dropped = { near: 0, sample: 0 };
  private caps: { near: number | null; sample: number | null } = { near: null, sample: null };

  constructor(
    private readonly redis: RedisClient,
    private readonly key: string,
    private readonly spec: StoreSpec,
    private readonly maxBytes: number,
    private readonly logger: Logger,
    private readonly legacyKey?: string,
  ) {}

  /** Loads the stored records; converts the older store on first use. Returns where to resume reading. */
  async load(): Promise<Offsets> {
    const all = await this.redis.hgetallBuffer(this.key);
    const meta = all[META]
      ? (JSON.parse(all[META].toString()) as { format: number; window: number; offsets: Offsets })
      : undefined;
    if (meta && (meta.format !== FORMAT || meta.window !== this.spec.window)) {
      this.logger.warn('sample store written for another window length: starting over from the topics', {
        stored: meta.window,
        configured: this.spec.window,
      });
      this.reset = true;
      return {};
    }
    let uncounted = 0;
    for (const [name, body] of Object.entries(all)) {
      if (name === META) continue;
      let m: MachineSamples;
      try {
        m = decodeMachine(body);
      } catch (error) {
        // One unreadable record costs that machine's history, not every round from now on.
        this.logger.warn('unreadable sample-store record dropped', { field: name, error: String(error) });
        this.dropField.push(name);
        continue;
      }
      if (m.seenBucketMs !== this.spec.bucketMs) {
        reseedSeen(m, this.spec);
        // Re-encoded with the counts by the next save, so this is reported once.
        this.dirty.add(m.machineId);
        uncounted++;
      }
      this.machines.set(m.machineId, m);
      this.sizes.set(m.machineId, body.length);
    }
    if (uncounted)
      this.logger.warn(
        'sample-store records without reservoir counts for this PDM_TRAIN_STORE_BUCKET (written by an older version, or another bucket width): their reservoir windows weigh 1, windows decided from now on get their weights',
        { machines: uncounted },
      );
    this.offsets = meta?.offsets ?? {};
    if (!meta && this.legacyKey) {
      const legacy = await readLegacySamples(this.redis, this.legacyKey);
      if (legacy) {
        this.migrated = true;
        this.add(legacy.snapshot);
        this.offsets = legacy.offsets;
        this.logger.info('converting the older sample store', {
          readings: legacy.snapshot.readings.length,
        });
      }
    }
    return this.offsets;
  }

  /** Merges freshly read records and decides the windows the streams have moved past. */
  add(fresh: Pick<TopicSnapshot, 'readings' | 'logs' | 'failures'>): void {
    const byMachine = new Map<string, { readings: Reading[]; logs: LogEntry[]; failures: Failure[] }>();
    const of = (id: string) => {
      let slot = byMachine.get(id);
      if (!slot) byMachine.set(id, (slot = { readings: [], logs: [], failures: [] }));
      return slot;
    };
    for (const r of fresh.readings) of(r.machineId).readings.push(r);
    for (const l of fresh.logs) of(l.machineId).logs.push(l);
    for (const f of fresh.failures) of(f.machineId).failures.push(f);
    for (const [id, slot] of byMachine) {
      const m = this.machines.get(id) ?? emptyMachine(id);
      this.machines.set(id, m);
      mergeFresh(
        m,
        slot.readings.sort((a, b) => a.ts - b.ts),
        slot.logs,
        slot.failures,
      );
      decide(m, this.spec);
      applyCaps(m, keepOrder(m, this.spec), null, this.spec);
      this.dirty.add(id);
    }
  }

  /**
   * Gives up decided windows until the records (and the offsets to be saved with them) fit the budget: one
   * cap on near windows and one on reservoir windows, the same for every machine (a per-machine quota), so
   * a machine that floods readings or fails often cannot crowd out the others' windows of either kind.
   */
  enforceBudget(offsets: Offsets): void {
    this.offsets = offsets;
    for (const id of this.dirty) this.encode(id);
    // Caps are chosen on estimated compressed sizes; where the estimate was low, tighten until they fit.
    for (let target = this.maxBytes; this.total() > this.maxBytes; target -= this.total() - this.maxBytes)
      this.fitTo(target);
  }

  private encode(id: string): void {
    const body = encodeMachine(this.machines.get(id)!);
    this.encoded.set(id, body);
    this.sizes.set(id, body.length);
  }

  private fitTo(target: number): void {
    const machines = [...this.machines.values()].map((m) => {
      const raw = encodeMachineRaw(m).length;
      return {
        m,
        order: keepOrder(m, this.spec),
        // Deflate shrinks a subset about as much as the whole record.
        ratio: this.sizes.get(m.machineId)! / raw,
        // the two empty counts are in bytesWithCaps
        fixed: encodeMachineRaw({ ...m, logs: [], segments: [] }).length - 8,
        name: field(m.machineId).length,
      };
    });
    const meta = this.metaBytes();
    const total = (caps: { near: number; sample: number }) =>
      machines.reduce(
        (sum, x) =>
          sum + x.name + Math.ceil(x.ratio * (x.fixed + bytesWithCaps(x.m, x.order, caps, this.spec))),
        meta,
      );
    /** The largest c whose caps pick(c) fit within `room`: total(pick(0)) does, total is monotone in c. */
    const largest = (pick: (c: number) => { near: number; sample: number }, max: number, room = target) => {
      let [lo, hi] = [0, max];
      while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        if (total(pick(mid)) <= room) lo = mid;
        else hi = mid - 1;
      }
      return lo;
    };
    // reduce, not Math.max(...): a spread of 100k machines would overflow the stack
    const maxNear = machines.reduce((n, x) => Math.max(n, x.order.near.length), 0);
    const maxSample = machines.reduce((n, x) => Math.max(n, x.order.sample.length), 0);
    let caps = { near: 0, sample: 0 };
    const base = total(caps);
    if (base > target) {
      const floor = machines.reduce((sum, x) => {
        const bare = structuredClone(x.m);
        applyCaps(bare, keepOrder(bare, this.spec), caps, this.spec);
        return sum + x.name + encodeMachine(bare).length;
      }, meta);
      if (floor > this.maxBytes)
        throw new ConfigError(
          `PDM_TRAIN_STORE_BYTES=${this.maxBytes} is too small for ${machines.length} machines: their undecided windows alone (the last ${this.spec.nearMs / 3_600_000} h of readings, at least one window each) take ${floor} bytes, the smallest budget that works; set PDM_TRAIN_STORE_BYTES to at least that, with room for growth (say ${Math.ceil(floor * 1.25)})`,
        );
    } else {
      // Near windows may take at most nearShare of what the undecided ones leave while the reservoir wants
      // the rest; whichever kind needs less than its share leaves the remainder to the other. 1 (the
      // default) is near windows first: below it, every machine's reservoir gets room, but on the store
      // bench trading near-failure negatives for reservoir windows ranked worse (README).
      const nearRoom = base + this.spec.nearShare * (target - base);
      if (total({ near: 0, sample: maxSample }) - base <= target - nearRoom)
        caps = { near: largest((c) => ({ near: c, sample: maxSample }), maxNear), sample: maxSample };
      else {
        const near = largest((c) => ({ near: c, sample: 0 }), maxNear, nearRoom);
        caps = { near, sample: largest((c) => ({ near, sample: c }), maxSample) };
      }
    }
    this.caps = { near: caps.near < maxNear ? caps.near : null, sample: caps.sample };
    for (const x of machines) {
      if (x.order.near.length <= caps.near && x.order.sample.length <= caps.sample) continue;
      const d = applyCaps(x.m, x.order, caps, this.spec);
      this.dropped.near += d.near;
      this.dropped.sample += d.sample;
      this.dirty.add(x.m.machineId);
      this.encode(x.m.machineId);
    }
  }

  private metaBytes(): number {
    return Buffer.byteLength(this.metaText()) + META.length;
  }

  private metaText(): string {
    return JSON.stringify({ format: FORMAT, window: this.spec.window, offsets: this.offsets });
  }

  private total(): number {
    let sum = this.metaBytes();
    for (const [id, size] of this.sizes) sum += size + field(id).length;
    return sum;
  }

  /** Writes the changed records and the offsets given to enforceBudget in one transaction. */
  async save(): Promise<void> {
    const tx = this.redis.multi();
    if (this.reset) tx.del(this.key);
    if (this.dropField.length) tx.hdel(this.key, ...this.dropField.splice(0));
    const changed = [...this.dirty];
    for (let i = 0; i < changed.length; i += 1_000) {
      const batch: Record<string, Buffer> = {};
      for (const id of changed.slice(i, i + 1_000)) batch[field(id)] = this.encoded.get(id)!;
      tx.hset(this.key, batch);
    }
    tx.hset(this.key, META, this.metaText());
    if (this.migrated && this.legacyKey) tx.del(this.legacyKey);
    await tx.exec();
    this.dirty.clear();
    this.encoded.clear();
    this.reset = false;
  }

  /** Every stored window labelled as of now, sorted by end time, with a dataset summary. */
  windows(): { windows: StoredWindow[]; summary: DatasetSummary; logs: LogEntry[]; failures: Failure[] } {
    const windows: StoredWindow[] = [];
    const summary: DatasetSummary = {
      machines: 0,
      readings: 0,
      logs: 0,
      failures: 0,
      windows: { positive: 0, negative: 0, censored: 0 },
      failuresIgnored: { unknownMachine: 0, noPrecedingReadings: 0, beforeFirstWindow: 0, duplicate: 0 },
      duplicateReadings: 0,
    };
    const logs: LogEntry[] = [];
    const failures: Failure[] = [];
    for (const m of this.machines.values()) {
      if (m.segments.length) summary.machines++;
      summary.readings += m.segments.reduce((n, s) => n + s.ts.length, 0);
      summary.logs += m.logs.length;
      summary.failures += m.failures.length;
      for (const l of m.logs) logs.push({ machineId: m.machineId, ...l });
      for (const ts of m.failures) failures.push({ machineId: m.machineId, ts, component: undefined });
      const w = windowsOf(m, this.spec);
      summary.windows.censored += w.censored;
      for (const x of w.windows) {
        windows.push(x);
        summary.windows[x.label === 1 ? 'positive' : 'negative']++;
      }
    }
    windows.sort((a, b) => a.endTs - b.endTs || (a.machineId < b.machineId ? -1 : 1));
    return { windows, summary, logs, failures };
  }

  report(): StoreReport {
    const windows = { near: 0, sample: 0, pending: 0 };
    let [readings, logs, failures, lateReadings] = [0, 0, 0, 0];
    for (const m of this.machines.values()) {
      const k = kindsOf(m, this.spec);
      windows.near += k.near;
      windows.sample += k.sample;
      windows.pending += k.pending;
      readings += m.segments.reduce((n, s) => n + s.ts.length, 0);
      logs += m.logs.length;
      failures += m.failures.length;
      lateReadings += m.lateReadings;
    }
    return {
      bytes: this.total(),
      budgetBytes: this.maxBytes,
      machines: this.machines.size,
      readings,
      logs,
      failures,
      windows,
      dropped: { ...this.dropped },
      caps: { ...this.caps },
      lateReadings,
      migrated: this.migrated,
    };
  }
}

/**
 * Reads what arrived since the last round into the store, bounds it, stores it, and returns the labelled
 * windows to train on with the logs (for the tokenizer) and failures (for lead times) the store kept.
 */
export async function readWithTrainStore(
  config: Config,
  logger: Logger,
  redis: RedisClient,
): Promise<{
  snapshot: TopicSnapshot;
  built: { windows: StoredWindow[]; summary: DatasetSummary };
  report: StoreReport;
}> {
  const topic = config.topics.readings;
  // The store and the legacy key it migrates from are written in one MULTI: one slot on a cluster.
  const keys = keyLayout(redis, config.redis.prefix);
  const store = new TrainStore(
    redis,
    keys.trainStore(topic),
    storeSpec(config),
    config.training.store.maxBytes,
    logger,
    keys.trainSamples(topic),
  );
  const fresh = await readTopicsToEnd(config, logger, await store.load());
  store.add(fresh);
  store.enforceBudget(fresh.next);
  await store.save();
  const { windows, summary, logs, failures } = store.windows();
  const report = store.report();
  logger.info('sample store', { ...report, fresh: fresh.readings.length });
  return {
    snapshot: { readings: [], logs, failures, invalid: fresh.invalid },
    built: { windows, summary },
    report,
  };
}
