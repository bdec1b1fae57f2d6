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

/** The copy would overwrite what the cluster already holds. */
export class CopyRefusedError extends Error {}

/**
 * Copies every pdm key under `prefix` from a single Redis into a Redis Cluster, renamed to the cluster
 * layout (src/redis/keys.ts), values and remaining time to live unchanged (DUMP, then RESTORE: the cluster
 * must run the source's Redis version or a newer one). The training lock and keys pdm does not know are
 * skipped and listed. Run it with every pdm process stopped: a key written during the copy may be missed.
 * `only` limits the copy to some groups (e.g. everything but the checkpoints, which `pdm replay` rebuilds).
 *
 * The cluster must hold no key under `prefix`, unless `replace`: copying over a cluster that workers already
 * write to would move their checkpoints back to the old Redis's, and leave keys the source lacks behind.
 */
export async function copyToCluster(
  source: Redis,
  target: RedisClient,
  prefix: string,
  only: (group: string) => boolean = () => true,
  replace = false,
): Promise<CopyReport> {
  if (!replace) {
    const existing = await scanKeys(target, `${prefix}*`);
    if (existing.length > 0)
      throw new CopyRefusedError(
        `the cluster already holds ${existing.length} keys under "${prefix}" (e.g. ${existing[0]}): copy into an empty cluster, or pass --replace to overwrite them`,
      );
  }
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
    // One transaction: a key's value and its time to live are read at the same instant (a key that
    // expired between two separate reads would otherwise be restored without an expiry).
    const read = source.multi();
    for (const { from: key } of chunk) read.dumpBuffer(key).pttl(key);
    const answers = (await read.exec()) ?? [];
    const values = chunk.map((item, i) => {
      const [[dumpError, dump], [ttlError, ttl]] = [answers[2 * i]!, answers[2 * i + 1]!];
      const error = dumpError ?? ttlError;
      if (error) throw error;
      return { ...item, dump: dump as Buffer | null, ttl: Number(ttl) };
    });
    // A key that expired between SCAN and DUMP has no value (and PTTL -2): nothing to copy.
    const present = values.filter((v) => v.dump !== null && v.ttl !== -2);
    const written = await pipelineByNode(
      target,
      present,
      (v) => v.to,
      (p, v) =>
        p.call(
          'RESTORE',
          v.to,
          // RESTORE's 0 means "no expiry" (PTTL -1); a key about to expire keeps at least 1 ms.
          v.ttl === -1 ? 0 : Math.max(1, v.ttl),
          v.dump!,
          ...(replace ? ['REPLACE'] : []),
        ),
    );
    const failed = written.find(([error]) => error);
    if (failed?.[0]) throw failed[0];
    for (const v of present) copied[v.group] = (copied[v.group] ?? 0) + 1;
  }
  return { copied, skipped };
}
