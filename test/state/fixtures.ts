/** What the Redis tests of src/state share: a client with its own key prefix, and batches of one machine. */
import { randomUUID } from 'node:crypto';
import { after } from 'node:test';
import type Redis from 'ioredis';
import { loadConfig } from '../../src/config';
import { createRedis } from '../../src/redis/client';
import type { BatchInput, BatchConsumer } from '../../src/worker/ports';
import type { DecodedRecord } from '../../src/worker/batch';
import { decodeRecord } from '../../src/worker/decode';

const HOUR = 3_600_000;
export const T0 = Date.UTC(2026, 0, 1);

/** A Redis client and a fresh key prefix; the keys under it are deleted and the client closed after the file. */
export function testRedis(): { redis: Redis; prefix: string } {
  const redis = createRedis(loadConfig(process.env));
  const prefix = `t${randomUUID().slice(0, 8)}:`;
  after(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });
  return { redis, prefix };
}

/**
 * Readings of machine `m-1` at offsets `from..to-1` of partition 0 of topic `r` (incarnation `i1`), one an
 * hour, `v` 0.9 on every third offset and 0.1 otherwise (so a threshold of 0.5 raises and clears).
 */
export function readingsBatch(from: number, to: number): BatchInput<DecodedRecord> {
  const messages = [];
  for (let o = from; o < to; o++)
    messages.push({
      key: Buffer.from('m-1'),
      value: Buffer.from(
        JSON.stringify({ machineId: 'm-1', ts: T0 + o * HOUR, values: { v: o % 3 === 0 ? 0.9 : 0.1 } }),
      ),
      offset: String(o),
      timestamp: String(T0),
    });
  const limits = {
    maxRecordBytes: 10_000,
    maxFutureSkewMs: HOUR,
    now: () => T0 + 1_000 * HOUR,
    requireKey: true,
  };
  const decoded = messages.map((m) => decodeRecord(m, 'readings', limits));
  return { topic: 'r', partition: 0, incarnation: 'i1', messages, decoded };
}

/**
 * What other work sees while a batch runs: the progress counter at each event-loop turn, when it is
 * neither zero nor `total` (the batch half done). `stop()` ends the watch.
 */
export function midwayViews(progress: () => number, total: number): { views: Set<number>; stop: () => void } {
  const views = new Set<number>();
  let done = false;
  const watch = () => {
    if (done) return;
    const at = progress();
    if (at > 0 && at < total) views.add(at);
    setImmediate(watch);
  };
  setImmediate(watch);
  return { views, stop: () => void (done = true) };
}

/** A consumer that stays running, whose commits are collected and whose staleness the test decides. */
export function testConsumer(
  commits: string[] = [],
  stale = () => false,
  onHeartbeat: () => void = () => undefined,
): BatchConsumer {
  return {
    isRunning: () => true,
    isStale: stale,
    heartbeat: async () => onHeartbeat(),
    resolveOffset: () => undefined,
    pause: () => undefined,
    commit: async (offset) => void commits.push(offset),
  };
}
