import { gunzipSync, gzipSync } from 'node:zlib';
import type Redis from 'ioredis';
import type { Failure, LogEntry, Reading } from '../ingest';
import type { Offsets, TopicSnapshot } from './source';

/**
 * The trainer's bounded, persistent sample store: the records read so far plus the offsets where reading
 * stopped, gzipped in one Redis key beside the model registry. A restarted trainer (or the next
 * `pdm train --once`) reads only what arrived since, instead of the whole history again — and keeps
 * working when topic retention has already deleted old records. Bounded: per machine, only readings
 * within `maxAgeMs` of its newest reading are kept (and the logs and failures of that span).
 * Written before anything else of a run, so a crash re-reads at most one run's worth of records;
 * duplicates from that are dropped by (machine, ts).
 */
export class SampleStore {
  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly maxAgeMs: number,
  ) {}

  async load(): Promise<{ snapshot: TopicSnapshot; offsets: Offsets } | undefined> {
    const body = await this.redis.getBuffer(this.key);
    if (!body) return undefined;
    try {
      const parsed = JSON.parse(gunzipSync(body).toString('utf8')) as {
        snapshot: TopicSnapshot;
        offsets: Offsets;
      };
      return { snapshot: { ...parsed.snapshot, invalid: {} }, offsets: parsed.offsets };
    } catch {
      return undefined; // unreadable: start over from the topics
    }
  }

  /** Merges a fresh read into the stored samples, trims to the bound and stores the result. */
  async save(
    previous: TopicSnapshot | undefined,
    fresh: TopicSnapshot,
    offsets: Offsets,
  ): Promise<TopicSnapshot> {
    const merged = trim(merge(previous, fresh), this.maxAgeMs);
    await this.redis.set(
      this.key,
      gzipSync(JSON.stringify({ snapshot: { ...merged, invalid: {} }, offsets })),
    );
    return merged;
  }
}

function dedupe<T extends { machineId: string; ts: number }>(
  items: readonly T[],
  extra: (t: T) => string = () => '',
): T[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    const k = `${item.machineId}\u0000${item.ts}\u0000${extra(item)}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export function merge(previous: TopicSnapshot | undefined, fresh: TopicSnapshot): TopicSnapshot {
  if (!previous) return fresh;
  return {
    readings: dedupe<Reading>([...previous.readings, ...fresh.readings]),
    logs: dedupe<LogEntry>([...previous.logs, ...fresh.logs], (l) => l.text),
    failures: dedupe<Failure>([...previous.failures, ...fresh.failures]),
    invalid: fresh.invalid,
  };
}

export function trim(snapshot: TopicSnapshot, maxAgeMs: number): TopicSnapshot {
  const newest = new Map<string, number>();
  for (const r of snapshot.readings)
    newest.set(r.machineId, Math.max(newest.get(r.machineId) ?? -Infinity, r.ts));
  const keep = (x: { machineId: string; ts: number }) =>
    x.ts >= (newest.get(x.machineId) ?? Infinity) - maxAgeMs;
  return {
    readings: snapshot.readings.filter(keep),
    logs: snapshot.logs.filter(keep),
    failures: snapshot.failures.filter(keep),
    invalid: snapshot.invalid,
  };
}
