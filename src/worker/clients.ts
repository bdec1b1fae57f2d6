import type { Admin, Consumer, Producer } from 'kafkajs';
import type { Config } from '../config';
import { coPartitionAssigner } from '../kafka/assigner';
import { createKafka } from '../kafka/client';
import type { Logger } from '../log';
import { openRedis } from '../redis/client';
import type { RedisClient } from '../redis/client';

export interface WorkerClients {
  readonly redis: RedisClient;
  readonly consumer: Consumer;
  readonly producer: Producer;
  readonly admin: Admin;
}

/** The worker's Kafka and Redis clients, with the settings its delivery guarantees depend on. */
export function createWorkerClients(config: Config, logger: Logger): WorkerClients {
  // Every call settles (bounded retries, command timeout): a Redis outage surfaces as an error that
  // fails the batch, which kafkajs retries, rather than a promise that never resolves.
  const redis = openRedis(config);
  redis.on('error', (error: Error) => logger.warn('redis error', { stage: 'redis', error: error.message }));
  const kafka = createKafka(config, logger.child({ stage: 'kafka' }));
  const consumer = kafka.consumer({
    groupId: config.kafka.groupId,
    partitionAssigners: [coPartitionAssigner],
    // A killed worker's partitions move after the session timeout: shorter recovers faster, but a
    // worker must heartbeat within it even while scoring a large batch.
    sessionTimeout: config.kafka.sessionTimeoutMs,
    heartbeatInterval: Math.max(500, Math.min(3_000, Math.floor(config.kafka.sessionTimeoutMs / 10))),
    // kafkajs decodes a whole fetch response in one event-loop turn, before any batch of it runs: with a
    // backlog on eight partitions that turn took 0.35–0.9 s on a loaded 2-core box, now the longest stall
    // (batches themselves yield). Smaller fetches shorten it but cost about 12% of ingest (more batches, so
    // more checkpoints and commits); a heartbeat interval of seconds absorbs it. The total stays kafkajs's
    // 10 MB: cut lower, a fetch could fill up with readings partitions and leave their logs partitions out.
    maxBytesPerPartition: 1_048_576,
    // Partitions added to the topics are noticed at the next metadata refresh, which then rebalances the
    // group onto them (kafkajs's default age is 5 minutes, during which their records would wait).
    metadataMaxAge: 30_000,
  });
  // Idempotent, and retrying without a count limit: while the broker is away the batch waits (its offsets
  // stay uncommitted) instead of failing records. kafkajs warns when an idempotent producer's retries are capped.
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    retry: { retries: Number.MAX_SAFE_INTEGER, maxRetryTime: 10_000 },
  });
  return { redis, consumer, producer, admin: kafka.admin() };
}
