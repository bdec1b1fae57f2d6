import type { Admin } from 'kafkajs';
import type { Config } from '../config';
import { createKafka } from '../kafka/client';
import { openRedis } from '../redis/client';
import type { RedisClient } from '../redis/client';
import { ModelRegistry } from '../registry';
import { CheckpointStore } from '../state';

/**
 * `pdm replay --from <time>`: re-scores history. A replay has to reset two things, in this order:
 * 1. the group's offsets of readings and logs, to the first record produced at or after `from` (Kafka
 *    record timestamps, as `kafka-consumer-groups --reset-offsets --to-datetime`). The commit carries no
 *    pdm incarnation, so the workers take the reset partitions as a new incarnation and no replayed record
 *    is mistaken for a re-delivered one (src/state/incarnation.ts);
 * 2. the machine checkpoints, deleted: a window that already holds newer readings would take the replayed
 *    ones as duplicates or late, and they would not be scored again. The states are rebuilt from the
 *    replayed records (the first `PDM_WINDOW` readings of a machine fill its window).
 * Both are refused while the group has members: a running worker would commit over the reset and write
 * its in-memory states back. Rerunning after a failure is safe (each step is idempotent).
 */

export interface ReplayOptions {
  readonly fromMs: number;
  /** Print the plan (offsets, checkpoints) without changing anything. */
  readonly dryRun: boolean;
}

export interface ReplayPlan {
  readonly group: string;
  readonly from: string;
  readonly dryRun: boolean;
  readonly offsets: Record<string, { partition: number; offset: string }[]>;
  readonly checkpoints: number;
  readonly modelVersion: string | null;
  readonly alertIds: string;
}

export class ReplayRefusedError extends Error {}

/** The group must have no member: its workers are stopped. */
async function assertGroupIdle(admin: Admin, groupId: string): Promise<void> {
  const { groups } = await admin.describeGroups([groupId]);
  const members = groups[0]?.members.length ?? 0;
  if (members > 0)
    throw new ReplayRefusedError(
      `consumer group ${groupId} has ${members} active member(s): stop its workers before a replay`,
    );
}

export async function planAndReplay(
  config: Config,
  opts: ReplayOptions,
  clients: { admin: Admin; redis: RedisClient },
): Promise<ReplayPlan> {
  const { admin, redis } = clients;
  const groupId = config.kafka.groupId;
  await assertGroupIdle(admin, groupId);
  const offsets: ReplayPlan['offsets'] = {};
  for (const topic of [config.topics.readings, config.topics.logs])
    offsets[topic] = (await admin.fetchTopicOffsetsByTimestamp(topic, opts.fromMs))
      .map(({ partition, offset }) => ({ partition, offset }))
      .sort((a, b) => a.partition - b.partition);
  const checkpoints = new CheckpointStore(redis, config.redis.prefix);
  let count = (await checkpoints.machineIds()).length;
  if (!opts.dryRun) {
    for (const [topic, partitions] of Object.entries(offsets))
      await admin.setOffsets({ groupId, topic, partitions });
    count = await checkpoints.deleteAll();
  }
  const modelVersion = (await new ModelRegistry(redis, config.redis.prefix).currentVersion()) ?? null;
  return {
    group: groupId,
    from: new Date(opts.fromMs).toISOString(),
    dryRun: opts.dryRun,
    offsets,
    checkpoints: count,
    modelVersion,
    alertIds:
      modelVersion === null
        ? 'no model is promoted: the replay updates state and scores nothing until one is'
        : `alertId = sha256(machineId, reading ts, "${modelVersion}", state): a decision the live run made under ${modelVersion} comes back with the same id (consumers drop it as a duplicate); decisions under other versions get new ids`,
  };
}

/** The command: prints the plan as JSON; exit 0 done, 3 refused (workers running). */
export async function runReplay(config: Config, opts: ReplayOptions): Promise<number> {
  const admin = createKafka(config).admin();
  const redis = openRedis(config);
  try {
    await admin.connect();
    const plan = await planAndReplay(config, opts, { admin, redis });
    process.stdout.write(JSON.stringify(plan, null, 2) + '\n');
    return 0;
  } catch (error) {
    if (!(error instanceof ReplayRefusedError)) throw error;
    process.stderr.write(`pdm replay: ${error.message}\n`);
    return 3;
  } finally {
    await admin.disconnect().catch(() => undefined);
    redis.disconnect();
  }
}
