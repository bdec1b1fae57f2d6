import type Redis from 'ioredis';
import { z } from 'zod';
import type { MachineState } from './machine';

/**
 * Per-machine checkpoints in Redis (one key per machine, JSON). Why Redis rather than rebuilding from
 * Kafka: the new owner of a partition after a rebalance or restart scores with a full window at once,
 * without re-reading history whose retention may be gone. Consistency with offsets: a checkpoint is
 * written after the outputs of its records are acknowledged and before their offsets are committed, so a
 * crash re-delivers records that the restored state already holds; those are duplicates by ts and ignored.
 */
const stateSchema = z.object({
  machineId: z.string(),
  readings: z.array(z.object({ ts: z.number(), values: z.record(z.number()) })),
  logs: z.array(z.object({ ts: z.number(), words: z.array(z.string()) })),
    // lastClearedTs and recent came with the k-of-n rule: checkpoints written before it load with none.
  alert: z.object({ state: z.enum(['raised', 'clear']), lastRaisedTs: z.number().optional(), lastClearedTs: z.number().optional(), recent: z.array(z.number()).default([]) }),
  lastScore: z.object({ ts: z.number(), score: z.number(), modelVersion: z.string() }).optional(),
  applied: z.object({ readings: z.number(), logs: z.number() }).default({ readings: -1, logs: -1 }),
});

export class CheckpointStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    /** Checkpoints of machines silent this long expire on their own; 0 keeps them forever. */
    private readonly ttlSeconds = 30 * 86_400,
  ) {}

  private key(machineId: string): string {
    return `${this.prefix}state:${machineId}`;
  }

  async save(states: readonly MachineState[]): Promise<void> {
    if (states.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const s of states) {
      const body = JSON.stringify(s);
      if (this.ttlSeconds > 0) pipeline.set(this.key(s.machineId), body, 'EX', this.ttlSeconds);
      else pipeline.set(this.key(s.machineId), body);
    }
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([error]) => error);
    if (failed?.[0]) throw failed[0];
  }

  /** The ids of every machine with a checkpoint (SCAN, so a large fleet does not block Redis). */
  async machineIds(): Promise<string[]> {
    const ids: string[] = [];
    const from = this.key('').length;
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${this.key('')}*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) ids.push(key.slice(from));
    } while (cursor !== '0');
    return ids;
  }

  /** Loads the checkpoints that exist; an unreadable one is reported and treated as absent (never fatal). */
  async load(machineIds: readonly string[], onCorrupt: (id: string, why: string) => void = () => undefined): Promise<Map<string, MachineState>> {
    const out = new Map<string, MachineState>();
    if (machineIds.length === 0) return out;
    const bodies = await this.redis.mget(...machineIds.map((id) => this.key(id)));
    machineIds.forEach((id, i) => {
      const body = bodies[i];
      if (!body) return;
      try {
        const parsed = stateSchema.parse(JSON.parse(body));
        const { state, lastRaisedTs, lastClearedTs, recent } = parsed.alert;
        out.set(id, { ...parsed, alert: { state, lastRaisedTs, lastClearedTs, recent }, lastScore: parsed.lastScore });
      } catch (error) {
        onCorrupt(id, (error as Error).message.slice(0, 200));
      }
    });
    return out;
  }
}
