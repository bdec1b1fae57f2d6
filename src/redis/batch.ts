import type { ChainableCommander } from 'ioredis';
import type Redis from 'ioredis';
import { keySlot } from './slot';
import { isCluster } from './types';
import type { RedisClient } from './types';

/** A pipeline's answers: one [error, reply] per command, in the order they were queued. */
export type PipelineResults = [Error | null, unknown][];

/**
 * Queues one command group per item and runs them, answering in item order. On a single Redis that is one
 * pipeline, as it always was. On a cluster ioredis refuses a pipeline whose keys live on different nodes,
 * so the items are split by the node that serves their key's slot, one pipeline per node, run at once.
 * `add` must queue exactly one command per item, on keys of `keyOf(item)`'s slot.
 */
export async function pipelineByNode<T>(
  redis: RedisClient,
  items: readonly T[],
  keyOf: (item: T) => string,
  add: (pipeline: ChainableCommander, item: T) => void,
): Promise<PipelineResults> {
  if (!isCluster(redis)) {
    const pipeline = redis.pipeline();
    for (const item of items) add(pipeline, item);
    return (await pipeline.exec()) ?? [];
  }
  // By the slot map ioredis keeps (master first, then replicas); before it is known, one group per slot.
  const nodeOf = (i: number) => {
    const slot = keySlot(keyOf(items[i]!));
    return redis.slots[slot]?.join(',') ?? `slot:${slot}`;
  };
  const out: PipelineResults = new Array<[Error | null, unknown]>(items.length);
  await Promise.all(
    groupBy([...items.keys()], nodeOf).map(async (indexes) => {
      const pipeline = redis.pipeline();
      for (const i of indexes) add(pipeline, items[i]!);
      const results = (await pipeline.exec()) ?? [];
      indexes.forEach((itemIndex, j) => (out[itemIndex] = results[j] ?? [null, null]));
    }),
  );
  return out;
}

/**
 * Runs one MULTI per slot group: on a single Redis one MULTI over every item (as it always was); on a
 * cluster one per slot, since a transaction may only touch one slot. Each group is atomic on its own.
 */
export async function multiBySlot<T>(
  redis: RedisClient,
  items: readonly T[],
  keyOf: (item: T) => string,
  add: (tx: ChainableCommander, item: T) => void,
): Promise<void> {
  const groups = isCluster(redis) ? groupBy(items, (item) => keySlot(keyOf(item))) : [items];
  await Promise.all(
    groups.map(async (group) => {
      const tx = redis.multi();
      for (const item of group) add(tx, item);
      const failed = ((await tx.exec()) ?? []).find(([error]) => error);
      if (failed?.[0]) throw failed[0];
    }),
  );
}

function groupBy<T, K>(items: readonly T[], keyOf: (item: T) => K): T[][] {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const k = keyOf(item);
    let group = groups.get(k);
    if (!group) groups.set(k, (group = []));
    group.push(item);
  }
  return [...groups.values()];
}

/** The values of these keys as Buffers (null where absent): MGET on a single Redis, GET per key by node on a cluster. */
export async function getBuffers(redis: RedisClient, keys: readonly string[]): Promise<(Buffer | null)[]> {
  if (!isCluster(redis)) return keys.length ? redis.mgetBuffer(...keys) : [];
  const results = await pipelineByNode(
    redis,
    keys,
    (k) => k,
    (p, k) => p.getBuffer(k),
  );
  return results.map(([error, value]) => {
    if (error) throw error;
    return value instanceof Buffer ? value : null;
  });
}

/**
 * Deletes keys, a few thousand a command: DEL of many keys on a single Redis; on a cluster one DEL per
 * slot (a multi-key command may only touch one slot), pipelined by node.
 */
export async function deleteKeys(redis: RedisClient, keys: readonly string[], chunk = 3_000): Promise<void> {
  if (!isCluster(redis)) {
    for (let from = 0; from < keys.length; from += chunk) await redis.del(...keys.slice(from, from + chunk));
    return;
  }
  const groups = groupBy(keys, keySlot).flatMap((g) => chunks(g, chunk));
  const results = await pipelineByNode(
    redis,
    groups,
    (g) => g[0]!,
    (p, g) => p.del(...g),
  );
  const failed = results.find(([error]) => error);
  if (failed?.[0]) throw failed[0];
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let from = 0; from < items.length; from += size) out.push(items.slice(from, from + size));
  return out;
}

/**
 * Every key matching a pattern, by SCAN (never KEYS: a large fleet must not block Redis). A cluster node
 * scans only its own keys, so on a cluster every master is scanned.
 */
export async function scanKeys(redis: RedisClient, pattern: string): Promise<string[]> {
  if (!isCluster(redis)) return scanNode(redis, pattern);
  // nodes() is empty until the client has connected and loaded the slot map.
  if (redis.status !== 'ready') await redis.ping();
  const perNode = await Promise.all(redis.nodes('master').map((node) => scanNode(node, pattern)));
  return perNode.flat();
}

async function scanNode(node: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}
