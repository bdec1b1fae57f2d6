import type { ChainableCommander } from 'ioredis';
import { deleteKeys, getBuffers, multiBySlot, pipelineByNode, scanKeys } from '../redis/batch';
import { keyLayout } from '../redis/keys';
import type { KeyLayout, MachineKeyKind } from '../redis/keys';
import type { RedisClient } from '../redis/types';
import { StaleCheckpointError } from '../errors';
import { Slicer } from '../loop';
import { decodeState, encodeState } from './codec';
import type { Decision } from './journal';
import { decisionField, decodeDecision, encodeDecision, placeKey } from './journal';
import type { MachineState } from './machine';

/**
 * Writes a checkpoint unless it would move an applied offset backwards (one script, so no other writer
 * can slip between the check and the write). KEYS: the state, its fence (the applied offsets and their
 * places, as JSON `{"r":[place, offset], "l":[place, offset]}`), its decision journal (journal.ts). ARGV:
 * body, ttl seconds (0 = none), fence.
 * Offsets are compared only within one place (topic, partition, incarnation): in another place a lower
 * offset is a different record (added partitions, a recreated topic, a replay), not a step back.
 * A written checkpoint also removes, atomically, the journal entries it makes useless (journal.ts
 * `outlives`): it keeps only readings of its own readings place beyond its applied offset (a redelivered
 * batch shorter than the first leaves those for the next one). The common journal is one batch's entries,
 * all covered: the key goes.
 * Returns {1} when written, {0, role, stored offset, offered offset} when refused.
 */
const FENCED_WRITE = `
local new = cjson.decode(ARGV[3])
local stored = redis.call('GET', KEYS[2])
if stored then
  local old = cjson.decode(stored)
  for _, role in ipairs({'r', 'l'}) do
    local a, b = old[role], new[role]
    if a and b and a[1] == b[1] and b[2] < a[2] then
      return {0, role, tostring(a[2]), tostring(b[2])}
    end
  end
end
if tonumber(ARGV[2]) > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('SET', KEYS[2], ARGV[3])
end
local fields = redis.call('HKEYS', KEYS[3])
if #fields > 0 then
  local place, applied = new['r'][1], new['r'][2]
  local drop = {}
  for _, f in ipairs(fields) do
    local p, o = string.match(f, '^(.*)#(%d+)$')
    if not p or (place ~= '' and p ~= place) or tonumber(o) <= applied then drop[#drop + 1] = f end
  end
  if #drop == #fields then
    redis.call('DEL', KEYS[3])
  else
    for i = 1, #drop, 500 do
      redis.call('HDEL', KEYS[3], unpack(drop, i, math.min(i + 499, #drop)))
    end
  end
end
return {1}
`;

/** A refused checkpoint write: which machine, which role, the stored and the offered applied offset. */
export interface CheckpointRefusal {
  readonly machineId: string;
  readonly role: 'readings' | 'logs';
  readonly stored: number;
  readonly offered: number;
}

/** A pipeline of a client on which FENCED_WRITE is defined (defineCommand adds it to pipelines too). */
type FencedPipeline = ChainableCommander & {
  pdmCheckpointWrite(
    stateKey: string,
    fenceKey: string,
    journalKey: string,
    body: Buffer,
    ttl: number,
    fence: string,
  ): unknown;
};

/** The fence of a state: its applied offsets with their places. */
export function fenceOf(state: MachineState): string {
  return JSON.stringify({
    r: [placeKey(state.appliedAt?.readings), state.applied.readings],
    l: [placeKey(state.appliedAt?.logs), state.applied.logs],
  });
}

/** Machines per Redis round trip when saving or loading (see save). */
const CHUNK = 1_000;

/**
 * Per-machine checkpoints in Redis (one key per machine, compact binary: codec.ts). Why Redis rather than rebuilding from
 * Kafka: the new owner of a partition after a rebalance or restart scores with a full window at once,
 * without re-reading history whose retention may be gone. Consistency with offsets: a checkpoint is
 * written after the outputs of its records are acknowledged and before their offsets are committed, so a
 * crash re-delivers records that the restored state already holds; those are recognised by their
 * bookmark (`applied`) and ignored. Writes are fenced: a writer that lost its partition while stalled
 * cannot overwrite what the new owner checkpointed with an older state (StaleCheckpointError).
 */
export class CheckpointStore {
  /** A machine's three keys share one slot on a cluster: FENCED_WRITE touches them together. */
  private readonly keys: KeyLayout;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
    /** Checkpoints of machines silent this long expire on their own; 0 keeps them forever. */
    private readonly ttlSeconds = 30 * 86_400,
    /** Told of every refused (stale) write, to count and log it. */
    private readonly onRefused: (refusal: CheckpointRefusal) => void = () => undefined,
  ) {
    if (!('pdmCheckpointWrite' in redis))
      redis.defineCommand('pdmCheckpointWrite', { numberOfKeys: 3, lua: FENCED_WRITE });
    this.keys = keyLayout(redis, prefix);
  }

  private key(machineId: string): string {
    return this.keys.machine('state', machineId);
  }

  private fenceKey(machineId: string): string {
    return this.keys.machine('fence', machineId);
  }

  private journalKey(machineId: string): string {
    return this.keys.machine('journal', machineId);
  }

  /**
   * Writes the states in pipelines of CHUNK, one after the other (on a cluster, one per node at once). Why chunks: a batch of a large fleet
   * touches tens of thousands of machines; one pipeline that size holds the event loop while it encodes and
   * lets the last commands outlive the client's command timeout behind the first (measured: 25k machines a
   * batch timed out on a busy 2-core box). The batch still waits for every chunk before its commit.
   * Throws StaleCheckpointError, after writing the others, when any state would move its applied offset back.
   */
  async save(states: readonly MachineState[]): Promise<void> {
    const refused: string[] = [];
    for (let from = 0; from < states.length; from += CHUNK) {
      const chunk = states.slice(from, from + CHUNK);
      const results = await pipelineByNode(
        this.redis,
        chunk,
        (s) => this.key(s.machineId),
        (pipeline, s) =>
          (pipeline as FencedPipeline).pdmCheckpointWrite(
            this.key(s.machineId),
            this.fenceKey(s.machineId),
            this.journalKey(s.machineId),
            encodeState(s),
            this.ttlSeconds,
            fenceOf(s),
          ),
      );
      const failed = results.find(([error]) => error);
      if (failed?.[0]) throw failed[0];
      results.forEach(([, reply], i) => {
        if (!Array.isArray(reply) || reply[0] !== 0) return;
        const machineId = chunk[i]!.machineId;
        refused.push(machineId);
        this.onRefused({
          machineId,
          role: reply[1] === 'l' ? 'logs' : 'readings',
          stored: Number(reply[2]),
          offered: Number(reply[3]),
        });
      });
    }
    if (refused.length) throw new StaleCheckpointError(refused);
  }

  /**
   * Journals decisions before their outputs are sent (one pipeline per CHUNK machines: a batch costs one
   * round trip). Each machine's journal expires with its checkpoint's ttl, renewed on every write; the
   * checkpoint that covers an entry removes it (see FENCED_WRITE).
   */
  async record(decisions: readonly Decision[]): Promise<void> {
    // A batch decides ten thousand windows: encoding them is cut into slices that let the event loop run.
    const slicer = new Slicer();
    const byMachine = new Map<string, string[]>();
    for (const d of decisions) {
      if (slicer.due()) await slicer.yield();
      let fields = byMachine.get(d.machineId);
      if (!fields) byMachine.set(d.machineId, (fields = []));
      fields.push(decisionField(d.place, d.offset), encodeDecision(d));
    }
    const machines = [...byMachine];
    for (let from = 0; from < machines.length; from += CHUNK) {
      // MULTI, not a plain pipeline: a journal key must never be left without its expiry (on a cluster,
      // one MULTI per slot: each journal with its expiry is still one transaction).
      await multiBySlot(
        this.redis,
        machines.slice(from, from + CHUNK),
        ([id]) => this.journalKey(id),
        (tx, [id, fields]) => {
          tx.hset(this.journalKey(id), ...fields);
          if (this.ttlSeconds > 0) tx.expire(this.journalKey(id), this.ttlSeconds);
        },
      );
    }
  }

  /** The journaled decisions of these machines (machines with none are absent); unreadable entries are skipped. */
  async journaled(machineIds: readonly string[]): Promise<Map<string, Decision[]>> {
    const out = new Map<string, Decision[]>();
    for (let from = 0; from < machineIds.length; from += CHUNK) {
      const ids = machineIds.slice(from, from + CHUNK);
      const results = await pipelineByNode(
        this.redis,
        ids,
        (id) => this.journalKey(id),
        (pipeline, id) => pipeline.hgetall(this.journalKey(id)),
      );
      results.forEach(([error, hash], i) => {
        if (error) throw error;
        const id = ids[i]!;
        const decisions = Object.entries(hash as Record<string, string>)
          .map(([field, value]) => decodeDecision(id, field, value))
          .filter((d): d is Decision => d !== undefined);
        if (decisions.length) out.set(id, decisions);
      });
    }
    return out;
  }

  /** The ids of every machine with a checkpoint (SCAN, on every master of a cluster). */
  machineIds(): Promise<string[]> {
    return this.scanIds('state');
  }

  private async scanIds(kind: MachineKeyKind): Promise<string[]> {
    const keys = await scanKeys(this.redis, this.keys.machinePattern(kind));
    return keys.map((key) => this.keys.machineIdOf(kind, key));
  }

  /**
   * Deletes every checkpoint, its fence and its decision journal (a replay rebuilds the states from
   * history and scores its records afresh; a journal without a checkpoint is a first batch that crashed);
   * returns how many checkpoints.
   */
  async deleteAll(): Promise<number> {
    const ids = await this.machineIds();
    const orphans = await this.scanIds('journal');
    const keys = [
      ...ids.flatMap((id) => [this.key(id), this.fenceKey(id), this.journalKey(id)]),
      ...orphans.map((id) => this.journalKey(id)),
    ];
    await deleteKeys(this.redis, keys, 3 * CHUNK);
    return ids.length;
  }

  /** Loads the checkpoints that exist; an unreadable one is reported and treated as absent (never fatal). */
  async load(
    machineIds: readonly string[],
    onCorrupt: (id: string, why: string) => void = () => undefined,
  ): Promise<Map<string, MachineState>> {
    const out = new Map<string, MachineState>();
    if (machineIds.length === 0) return out;
    for (let from = 0; from < machineIds.length; from += CHUNK) {
      const ids = machineIds.slice(from, from + CHUNK);
      const bodies = await getBuffers(
        this.redis,
        ids.map((id) => this.key(id)),
      );
      ids.forEach((id, i) => {
        const body = bodies[i];
        if (!body) return;
        try {
          out.set(id, decodeState(body));
        } catch (error) {
          onCorrupt(id, (error as Error).message.slice(0, 200));
        }
      });
    }
    return out;
  }
}
