import { z } from 'zod';
import type { DriftSnapshot } from '../drift';
import { keyLayout } from '../redis/keys';
import type { KeyLayout } from '../redis/keys';
import type { RedisClient } from '../redis/types';
import type { MachineLedger } from './ledger';
import { figures, Tally } from './tally';
import type { LiveFigures } from './tally';

const position = z.object({ partition: z.number().int(), offset: z.number().int() });
const machineSchema = z.object({
  machineId: z.string(),
  firstTs: z.number().optional(),
  lastTs: z.number().optional(),
  lastAt: position.optional(),
  alerts: z.array(
    z.object({
      id: z.string(),
      ts: z.number(),
      version: z.string(),
      outcome: z.enum(['pending', 'true', 'false']),
      due: position.optional(),
    }),
  ),
  failures: z.array(z.object({ ts: z.number(), decided: z.boolean(), due: position.optional() })),
  shadow: z
    .record(
      z
        .object({
          state: z.enum(['raised', 'clear']),
          lastRaisedTs: z.number().optional(),
          lastClearedTs: z.number().optional(),
          recent: z.array(z.number()),
          lastTs: z.number(),
        })
        // JSON drops undefined: the alert state's keys are back, explicitly, as the policy expects them.
        .transform((a) => ({ ...a, lastRaisedTs: a.lastRaisedTs, lastClearedTs: a.lastClearedTs })),
    )
    .optional(),
});

/** Lead times kept per version (a list in Redis, newest last): failures are rare, this bounds a pathological stream. */
export const MAX_LEADS_PER_VERSION = 100_000;

/**
 * The evaluator's state in Redis under `<prefix>eval:`: a hash of per-machine ledgers, the tally (one JSON
 * document), the fleet clock, and a list of lead times per version. Everything a batch changed is written
 * in one MULTI before its offsets are committed, so a crash re-delivers records the stored state already
 * holds; they are duplicates by alertId or (machine, ts) and change nothing.
 */
export class EvaluationStore {
  /** One slot on a cluster: a batch's changes are one MULTI. */
  private readonly keys: KeyLayout;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
  ) {
    this.keys = keyLayout(redis, prefix);
  }

  private k(name: string): string {
    return this.keys.evaluation(name);
  }

  async load(
    onCorrupt: (id: string, why: string) => void,
  ): Promise<{ machines: MachineLedger[]; tally: Tally; clock: number; leads: Map<string, number[]> }> {
    const machines: MachineLedger[] = [];
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(this.k('machines'), cursor, 'COUNT', 1000);
      cursor = next;
      for (let i = 0; i + 1 < flat.length; i += 2) {
        try {
          machines.push(machineSchema.parse(JSON.parse(flat[i + 1]!)));
        } catch (error) {
          onCorrupt(flat[i]!, (error as Error).message.slice(0, 200));
        }
      }
    } while (cursor !== '0');
    const [tallyBody, clockBody] = await this.redis.mget(this.k('tally'), this.k('clock'));
    const tally = Tally.fromJSON(tallyBody ? JSON.parse(tallyBody) : undefined);
    return {
      machines,
      tally,
      clock: clockBody ? Number(clockBody) : -Infinity,
      leads: await this.leads([...tally.versions.keys()]),
    };
  }

  async leads(versions: readonly string[]): Promise<Map<string, number[]>> {
    const out = new Map<string, number[]>();
    for (const v of versions) out.set(v, (await this.redis.lrange(this.k(`lead:${v}`), 0, -1)).map(Number));
    return out;
  }

  async save(
    changed: readonly MachineLedger[],
    evicted: readonly string[],
    tally: Tally,
    newLeads: ReadonlyMap<string, readonly number[]>,
    clock: number,
  ): Promise<void> {
    const tx = this.redis.multi();
    if (changed.length)
      tx.hset(this.k('machines'), ...changed.flatMap((m) => [m.machineId, JSON.stringify(m)]));
    if (evicted.length) tx.hdel(this.k('machines'), ...evicted);
    for (const [v, leads] of newLeads) {
      if (leads.length === 0) continue;
      tx.rpush(this.k(`lead:${v}`), ...leads.map(String));
      tx.ltrim(this.k(`lead:${v}`), -MAX_LEADS_PER_VERSION, -1);
    }
    tx.set(this.k('tally'), JSON.stringify(tally));
    if (Number.isFinite(clock)) tx.set(this.k('clock'), String(clock));
    const results = (await tx.exec()) ?? [];
    const failed = results.find(([error]) => error);
    if (failed?.[0]) throw failed[0];
  }
}

/** The drift figures as the evaluator last published them, with the wall time it wrote them. */
export interface StoredDrift extends DriftSnapshot {
  readonly writtenAt: number;
}

const driftSchema = z.object({
  version: z.string(),
  sensors: z.array(z.object({ sensor: z.string(), psi: z.number(), meanShift: z.number(), n: z.number() })),
  oovRatio: z.number().nullable(),
  tokens: z.number(),
  writtenAt: z.number(),
});

/** Overwrites the published drift figures (one small document: readers want the latest only). */
export async function saveDrift(
  redis: RedisClient,
  prefix: string,
  snapshot: DriftSnapshot,
  now = Date.now(),
): Promise<void> {
  await redis.set(
    keyLayout(redis, prefix).evaluation('drift'),
    JSON.stringify({ ...snapshot, writtenAt: now }),
  );
}

/** The drift figures the evaluator last published; undefined when none (or unreadable: a reader must not fail). */
export async function readDrift(redis: RedisClient, prefix: string): Promise<StoredDrift | undefined> {
  const body = await redis.get(keyLayout(redis, prefix).evaluation('drift'));
  if (!body) return undefined;
  try {
    return driftSchema.parse(JSON.parse(body));
  } catch {
    return undefined;
  }
}

/** The live figures per version as stored (for `pdm model list` and `/model`), without running an evaluator. */
export async function readLiveFigures(redis: RedisClient, prefix: string): Promise<Map<string, LiveFigures>> {
  const store = new EvaluationStore(redis, prefix);
  const body = await redis.get(keyLayout(redis, prefix).evaluation('tally'));
  const tally = Tally.fromJSON(body ? JSON.parse(body) : undefined);
  const leads = await store.leads([...tally.versions.keys()]);
  return new Map([...tally.versions].map(([v, c]) => [v, figures(v, c, leads.get(v) ?? [])]));
}
