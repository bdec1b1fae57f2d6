import { randomUUID } from 'node:crypto';
import type { Config } from '../config';
import { decodeFailure, decodeLog, decodeReading } from '../ingest';
import type { Failure, LogEntry, Reading } from '../ingest';
import { createKafka } from '../kafka/client';
import type { Logger } from '../log';

export interface TopicSnapshot {
  readonly readings: Reading[];
  readonly logs: LogEntry[];
  readonly failures: Failure[];
  readonly invalid: Record<string, number>;
}

/** "topic/partition" → offset. */
export type Offsets = Record<string, number>;

/**
 * Reads the three topics from the beginning up to the high watermarks taken at the start, with a
 * throw-away consumer group (deleted afterwards) so that the worker's group offsets are never touched.
 * Invalid records are counted, not fatal: the worker dead-letters them; training just skips them.
 */
export async function readTopicsToEnd(
  config: Config,
  logger: Logger,
  from: Offsets = {},
): Promise<TopicSnapshot & { next: Offsets }> {
  const kafka = createKafka(config, logger);
  const admin = kafka.admin();
  await admin.connect();
  const t = config.topics;
  const topics = [t.readings, t.logs, t.failures];
  const existing = new Set(await admin.listTopics());
  const present = topics.filter((x) => existing.has(x));
  const remaining = new Map<string, number>(); // "topic/partition" → last offset to read
  const seekTo = new Map<string, number>(); // where an earlier run stopped, when still retained
  const next: Offsets = {};
  for (const topic of present) {
    for (const p of await admin.fetchTopicOffsets(topic)) {
      const key = `${topic}/${p.partition}`;
      const [low, high] = [Number(p.low), Number(p.high)];
      const start = Math.max(low, from[key] ?? low);
      next[key] = high;
      if (high > start) remaining.set(key, high - 1);
      if (start > low) seekTo.set(key, start);
    }
  }
  const snapshot = {
    readings: [] as Reading[],
    logs: [] as LogEntry[],
    failures: [] as Failure[],
    invalid: {} as Record<string, number>,
    next,
  };
  const total = [...remaining.values()].length;
  if (remaining.size === 0) {
    await admin.disconnect();
    return snapshot;
  }
  const groupId = `${config.kafka.groupId}.train.${randomUUID().slice(0, 8)}`;
  const consumer = kafka.consumer({ groupId, maxBytesPerPartition: 4 << 20 });
  const limits = {
    maxRecordBytes: config.maxRecordBytes,
    maxFutureSkewMs: config.maxFutureSkewMs,
    now: Date.now,
  };
  let count = 0;
  let lastReport = Date.now();
  let finish: () => void = () => undefined;
  const done = new Promise<void>((r) => (finish = r));
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: present, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async (payload) => {
        const { batch } = payload;
        const key = `${batch.topic}/${batch.partition}`;
        const last = remaining.get(key);
        const first = seekTo.get(key) ?? 0;
        for (const m of batch.messages) {
          if (last === undefined || Number(m.offset) > last) break;
          if (Number(m.offset) < first) continue; // fetched before the seek took effect
          const k = m.key?.toString();
          const d =
            batch.topic === t.readings
              ? decodeReading(m.value, k, limits)
              : batch.topic === t.logs
                ? decodeLog(m.value, k, limits)
                : decodeFailure(m.value, k, limits);
          if (!d.ok) snapshot.invalid[d.code] = (snapshot.invalid[d.code] ?? 0) + 1;
          else if ('values' in d.value) snapshot.readings.push(d.value);
          else if ('text' in d.value) snapshot.logs.push(d.value);
          else snapshot.failures.push(d.value);
          count++;
          payload.resolveOffset(m.offset);
          if (Number(m.offset) >= last) remaining.delete(key);
        }
        await payload.heartbeat();
        if (Date.now() - lastReport > 3_000) {
          lastReport = Date.now();
          logger.info('reading topics', {
            records: count,
            partitionsLeft: remaining.size,
            partitions: total,
          });
        }
        if (remaining.size === 0) finish();
      },
    });
    for (const [key, offset] of seekTo) {
      const cut = key.lastIndexOf('/');
      consumer.seek({
        topic: key.slice(0, cut),
        partition: Number(key.slice(cut + 1)),
        offset: String(offset),
      });
    }
    await done;
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
  logger.info('topics read', {
    readings: snapshot.readings.length,
    logs: snapshot.logs.length,
    failures: snapshot.failures.length,
    invalid: snapshot.invalid,
  });
  return snapshot;
}
