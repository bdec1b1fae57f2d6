import type Redis from 'ioredis';
import { pipelineByNode, scanKeys } from './batch';
import { clusterKeyOf } from './keys';
import type { RedisClient } from './types';

/** What a copy did: keys copied per group (the part of the key name after the prefix, up to its first ':'), keys left. */
export interface CopyReport {
  readonly copied: Record<string, number>;
  readonly skipped: readonly string[];
}

const CHUNK = 500;

/**
 * Copies every pdm key under `prefix` from a single Redis into a Redis Cluster, renamed to the cluster
 * layout (src/redis/keys.ts), values and remaining time to live unchanged (DUMP, then RESTORE … REPLACE:
 * both sides must run the same Redis major version). The training lock and keys pdm does not know are
 * skipped and listed. Run it with every pdm process stopped: a key written during the copy may be missed.
 * `only` limits the copy to some groups (e.g. everything but the checkpoints, which `pdm replay` rebuilds).
 */
export async function copyToCluster(
  source: Redis,
  target: RedisClient,
  prefix: string,
  only: (group: string) => boolean = () => true,
): Promise<CopyReport> {
  const copied: Record<string, number> = {};
  const skipped: string[] = [];
  const plan: { from: string; to: string; group: string }[] = [];
  for (const key of await scanKeys(source, `${prefix}*`)) {
    const to = clusterKeyOf(prefix, key);
    const group = key.slice(prefix.length).split(':')[0]!;
    if (to === undefined) skipped.push(key);
    else if (only(group)) plan.push({ from: key, to, group });
  }
  for (let from = 0; from < plan.length; from += CHUNK) {
    const chunk = plan.slice(from, from + CHUNK);
    const read = source.pipeline();
    for (const { from: key } of chunk) read.dumpBuffer(key).pttl(key);
    const answers = (await read.exec()) ?? [];
    const values = chunk.map((item, i) => {
      const [[dumpError, dump], [ttlError, ttl]] = [answers[2 * i]!, answers[2 * i + 1]!];
      const error = dumpError ?? ttlError;
      if (error) throw error;
      return { ...item, dump: dump as Buffer | null, ttl: Number(ttl) };
    });
    // A key that expired between SCAN and DUMP has no value: nothing to copy.
    const present = values.filter((v) => v.dump !== null);
    const written = await pipelineByNode(
      target,
      present,
      (v) => v.to,
      (p, v) => p.call('RESTORE', v.to, Math.max(0, v.ttl), v.dump!, 'REPLACE'),
    );
    const failed = written.find(([error]) => error);
    if (failed?.[0]) throw failed[0];
    for (const v of present) copied[v.group] = (copied[v.group] ?? 0) + 1;
  }
  return { copied, skipped };
}
