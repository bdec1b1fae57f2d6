import type { EachBatchPayload } from 'kafkajs';
import type { OffsetTracker } from '../kafka/offsets';

/** How long a readings batch waits for the logs of its partition to catch up before it is applied anyway. */
const LOG_WAIT_MS = 5_000;

/**
 * The event-time join of readings with the logs of the same partition (the topics are co-partitioned),
 * and the serialisation of the batches of one partition.
 */
export class JoinGate {
  private readonly locks = new Map<number, Promise<void>>();

  constructor(
    private readonly offsets: Pick<OffsetTracker, 'lag' | 'maxEventTs'>,
    private readonly logsTopic: string,
    private readonly refreshLag: () => Promise<void>,
  ) {}

  /** Readings and logs of partition p are applied one batch at a time, so a checkpoint never holds half a batch. */
  async serialise<T>(partition: number, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(partition) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    this.locks.set(
      partition,
      previous.then(() => mine),
    );
    await previous;
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /**
   * A reading at t should see the logs up to t. When this partition's logs are behind (a replay, or a
   * slower logs fetch) wait for them, up to a bound, heartbeating meanwhile.
   */
  async awaitLogs(
    partition: number,
    upToTs: number,
    payload: Pick<EachBatchPayload, 'isRunning' | 'isStale' | 'heartbeat'>,
  ): Promise<void> {
    const deadline = Date.now() + LOG_WAIT_MS;
    while (Date.now() < deadline && payload.isRunning() && !payload.isStale()) {
      if (this.logsCaughtUp(partition, upToTs)) return;
      // Unknown lag (the partition's first batch): ask the broker, and go on at once if that settles it.
      // Sleeping first cost every partition's first batch 50 ms and more, with nothing to wait for.
      if (this.offsets.lag(this.logsTopic, partition) === undefined) {
        await this.refreshLag();
        if (this.logsCaughtUp(partition, upToTs)) return;
      }
      await new Promise((r) => setTimeout(r, 50));
      await payload.heartbeat();
    }
  }

  private logsCaughtUp(partition: number, upToTs: number): boolean {
    return (
      this.offsets.lag(this.logsTopic, partition) === 0 ||
      this.offsets.maxEventTs(this.logsTopic, partition) >= upToTs
    );
  }
}
