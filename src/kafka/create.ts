import type { Admin, ITopicConfig } from 'kafkajs';
import { PdmError } from '../errors';
import { retry } from '../retry';

/** How long topic creation waits for every new partition to have a leader. */
const READY_TIMEOUT_MS = 30_000;

/**
 * Creates topics (those that exist are left alone) and waits until every partition of each has a leader.
 * Why not kafkajs's `waitForLeaders` alone: right after CreateTopics a broker's metadata may still answer
 * UNKNOWN_TOPIC_OR_PARTITION (its metadata cache lags the controller), which that wait does not retry
 * (kafkajs#1222): on a loaded broker `pdm topics create` and the tests failed this way. Here any
 * retriable error, and a partition without a leader, is waited out until `timeoutMs`; a refusal that
 * cannot pass (a replication factor above the broker count, a bad config entry, no authorisation) fails at
 * once, naming each topic and its error, and so does a topic that exists with another partition count.
 */
export async function createTopicsReady(
  admin: Admin,
  topics: readonly ITopicConfig[],
  timeoutMs = READY_TIMEOUT_MS,
): Promise<void> {
  if (topics.length === 0) return;
  const deadline = Date.now() + timeoutMs;
  const keepGoing = () => Date.now() < deadline;
  await retry(
    () =>
      admin.createTopics({ topics: [...topics], waitForLeaders: false }).catch((error: unknown) => {
        throw creationError(error);
      }),
    { keepGoing },
  );
  const wanted = new Map(topics.map((t) => [t.topic, t.numPartitions]));
  await retry(
    async () => {
      const meta = await admin.fetchTopicMetadata({ topics: [...wanted.keys()] });
      for (const t of meta.topics) {
        const count = wanted.get(t.name);
        if (count !== undefined && count > 0 && t.partitions.length > 0 && t.partitions.length !== count)
          throw new PdmError(
            'config',
            `topic ${t.name} exists with ${t.partitions.length} partitions, not the ${count} asked for`,
          );
      }
      const waiting = meta.topics
        .filter((t) => t.partitions.length === 0 || t.partitions.some((p) => p.leader < 0))
        .map((t) => t.name);
      if (waiting.length)
        throw new Error(`topics without a leader for every partition yet: ${waiting.join(', ')}`);
    },
    { initialMs: 50, maxDelayMs: 500, keepGoing },
  );
}

/**
 * kafkajs reports per-topic CreateTopics errors as one aggregate error without a `retriable` flag (which
 * retry() would take as retriable): retriable only when each of its errors is, and naming each otherwise.
 */
function creationError(error: unknown): unknown {
  const inner = (error as { errors?: unknown }).errors;
  if (!Array.isArray(inner) || inner.length === 0) return error;
  const each = inner as { message?: string; type?: string; retriable?: boolean }[];
  if (each.every((e) => e.retriable === true)) return error;
  const why = each.map((e) => e.type ?? e.message ?? 'unknown error').join('; ');
  return new PdmError('config', `topic creation refused: ${why}`, false, { cause: error });
}
