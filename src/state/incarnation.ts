import { randomBytes } from 'node:crypto';

/**
 * Topic incarnations, as the consumer group knows them. Why not the topic id: kafkajs 2.2.4 speaks Metadata
 * up to v6 and the topic id arrived in v10, so no client call returns it. What the group does keep is the
 * metadata string of its committed offsets, and the broker deletes a topic's committed offsets with the
 * topic. So an incarnation is an id minted by the first worker that consumes a partition with no pdm
 * commit, and carried in the metadata of every commit of that partition afterwards:
 * - a new owner after a rebalance or restart reads it back from the last commit: the same incarnation, so
 *   records re-delivered between checkpoint and commit are recognised;
 * - a recreated topic, an added partition, or offsets reset with `pdm replay` or `kafka-consumer-groups
 *   --reset-offsets` (which commit without our metadata) have no pdm commit: a new incarnation, so no
 *   record there is mistaken for one applied before.
 * A minted incarnation is made durable before the batch that minted it is applied: it is committed at the
 * batch's first offset (which skips nothing), so a retry of that batch, or the next owner, reads the same
 * incarnation back, and the bookmarks and journal entries that batch writes stay recognisable.
 */

const PREFIX = 'pdm-incarnation:';

/** A partition's committed offset and metadata (kafkajs admin.fetchOffsets's shape). */
export interface CommittedPartition {
  readonly partition: number;
  readonly metadata: string | null;
}

/** The group's committed offsets of one topic. */
export type CommittedSource = (topic: string) => Promise<readonly CommittedPartition[]>;

/** Commits `offset` of a partition with `metadata` (a minted incarnation's first commit). */
export type IncarnationCommit = (
  topic: string,
  partition: number,
  offset: number,
  metadata: string,
) => Promise<void>;

/** The incarnation an offset commit's metadata names, if it was written by a pdm worker. */
export function incarnationOf(metadata: string | null | undefined): string | undefined {
  return metadata?.startsWith(PREFIX) ? metadata.slice(PREFIX.length) || undefined : undefined;
}

/** The metadata to commit with an offset of a partition of incarnation `id`. */
export function commitMetadata(id: string): string {
  return `${PREFIX}${id}`;
}

export function newIncarnation(): string {
  return randomBytes(8).toString('hex');
}

/** The incarnation of each partition this worker consumes, looked up once per assignment (and after a rewind). */
export class Incarnations {
  private readonly known = new Map<string, { id: string; lastOffset: number }>();

  constructor(
    private readonly committed: CommittedSource,
    /** Makes a minted incarnation durable (the group's commit); awaited before `of` returns it. */
    private readonly persist: IncarnationCommit,
    private readonly mint: () => string = newIncarnation,
  ) {}

  private static key(topic: string, partition: number): string {
    return `${topic}\u0000${partition}`;
  }

  /**
   * The incarnation of `topic`/`partition` for a batch of offsets `firstOffset`..`lastOffset`. A batch that
   * starts at or before what this worker already saw (a retried batch, or a fetch position reset because
   * the topic was recreated under a running consumer) asks the group again. Where the group has no pdm
   * commit, a new incarnation is minted and committed at `firstOffset` before it is returned: otherwise a
   * retry of this batch (or the next owner) would mint another, and take this batch's bookmarks and
   * journaled decisions for another place's.
   */
  async of(topic: string, partition: number, firstOffset: number, lastOffset: number): Promise<string> {
    const key = Incarnations.key(topic, partition);
    let entry = this.known.get(key);
    if (entry === undefined || firstOffset <= entry.lastOffset) {
      const mine = (await this.committed(topic)).find((p) => p.partition === partition);
      let id = incarnationOf(mine?.metadata);
      if (id === undefined) {
        id = this.mint();
        await this.persist(topic, partition, firstOffset, commitMetadata(id));
      }
      entry = { id, lastOffset: -1 };
      this.known.set(key, entry);
    }
    entry.lastOffset = Math.max(entry.lastOffset, lastOffset);
    return entry.id;
  }

  /** The commit metadata of a partition looked up with `of`; undefined when it was not. */
  metadata(topic: string, partition: number): string | undefined {
    const entry = this.known.get(Incarnations.key(topic, partition));
    return entry && commitMetadata(entry.id);
  }

  /** Forgets every partition (after a rebalance: the next batch asks the group again). */
  clear(): void {
    this.known.clear();
  }
}
