import type { Admin, ITopicConfig } from 'kafkajs';
import { retry } from '../retry';

/** How long topic creation waits for every new partition to have a leader. */
const READY_TIMEOUT_MS = 30_000;

/**
 * Creates topics (those that exist are left alone) and waits until every partition of each has a leader.
 * Why not kafkajs's `waitForLeaders` alone: right after CreateTopics a broker's metadata may still answer
 * UNKNOWN_TOPIC_OR_PARTITION (its metadata cache lags the controller), which that wait does not retry
 * (kafkajs#1222): on a loaded broker `pdm topics create` and the tests failed this way. Here any
 * retriable error, and a partition without a leader, is waited out until `timeoutMs`.
 */
export async function createTopicsReady(
  admin: Admin,
  topics: readonly ITopicConfig[],
  timeoutMs = READY_TIMEOUT_MS,
): Promise<void> {
  if (topics.length === 0) return;
  const deadline = Date.now() + timeoutMs;
  const keepGoing = () => Date.now() < deadline;
  await retry(() => admin.createTopics({ topics: [...topics], waitForLeaders: false }), { keepGoing });
  const names = topics.map((t) => t.topic);
  await retry(
    async () => {
      const meta = await admin.fetchTopicMetadata({ topics: names });
      const waiting = meta.topics
        .filter((t) => t.partitions.length === 0 || t.partitions.some((p) => p.leader < 0))
        .map((t) => t.name);
      if (waiting.length)
        throw new Error(`topics without a leader for every partition yet: ${waiting.join(', ')}`);
    },
    { initialMs: 50, maxDelayMs: 500, keepGoing },
  );
}
