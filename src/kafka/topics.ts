import type { Config } from '../config';
import { createKafka } from './client';
import { createTopicsReady } from './create';

/**
 * Creates the contract topics that do not exist. Readings and logs get the same partition count (they are
 * co-partitioned by machineId); an existing pair with different counts is an error, not a silent mismatch.
 */
export async function createTopics(
  config: Config,
  opts: { partitions: number; replication: number },
): Promise<string[]> {
  if (!Number.isInteger(opts.partitions) || opts.partitions < 1)
    throw new RangeError('--partitions must be a positive integer');
  const admin = createKafka(config).admin();
  await admin.connect();
  try {
    const t = config.topics;
    const wanted = [t.readings, t.logs, t.failures, t.alerts, t.dlq, ...(t.scores ? [t.scores] : [])];
    const existing = new Set(await admin.listTopics());
    const missing = wanted.filter((name) => !existing.has(name));
    if (missing.length) {
      await createTopicsReady(
        admin,
        missing.map((topic) => ({
          topic,
          numPartitions: opts.partitions,
          replicationFactor: opts.replication,
        })),
      );
    }
    const meta = await admin.fetchTopicMetadata({ topics: [t.readings, t.logs] });
    const [a, b] = meta.topics.map((m) => m.partitions.length);
    if (a !== b)
      throw new Error(
        `${t.readings} has ${a} partitions but ${t.logs} has ${b}: they must be co-partitioned`,
      );
    return missing;
  } finally {
    await admin.disconnect();
  }
}
