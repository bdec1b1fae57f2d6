import { AssignerProtocol } from 'kafkajs';
import type { Assigner, Cluster, GroupMember } from 'kafkajs';

export const CO_PARTITION_ASSIGNER = 'PdmCoPartitionAssigner';

/**
 * A partition assigner that gives each member the same partition NUMBERS of every subscribed topic.
 * Readings and logs are keyed by machineId and have the same partition count, so partition p of both holds
 * the same machines: whoever owns p can join them in memory. kafkajs's default round-robin assigner
 * spreads topic-partitions independently and would split a machine's readings and logs across workers.
 */
export function assignPartitionNumbers(
  memberIds: readonly string[],
  partitionsByTopic: Readonly<Record<string, number>>,
): Map<string, Record<string, number[]>> {
  const members = [...memberIds].sort();
  const out = new Map<string, Record<string, number[]>>(members.map((m) => [m, {}]));
  if (members.length === 0) return out;
  for (const [topic, count] of Object.entries(partitionsByTopic)) {
    for (let p = 0; p < count; p++) {
      const owner = members[p % members.length]!;
      const assignment = out.get(owner)!;
      (assignment[topic] ??= []).push(p);
    }
  }
  return out;
}

export const coPartitionAssigner = ({ cluster }: { cluster: Cluster }): Assigner => ({
  name: CO_PARTITION_ASSIGNER,
  version: 1,
  async assign({ members, topics }: { members: GroupMember[]; topics: string[] }) {
    const counts: Record<string, number> = {};
    for (const topic of topics) counts[topic] = cluster.findTopicPartitionMetadata(topic).length;
    const distinct = new Set(Object.values(counts));
    if (distinct.size > 1) {
      // Still assign by number (partition p of each topic together); the surplus partitions of the larger
      // topic hold machines with no counterpart. `pdm topics create` refuses to create such a pair.
      process.stderr.write(
        `WARNING: co-partitioned topics have different partition counts: ${JSON.stringify(counts)}\n`,
      );
    }
    const plan = assignPartitionNumbers(
      members.map((m) => m.memberId),
      counts,
    );
    return members.map(({ memberId }) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({
        version: 1,
        assignment: plan.get(memberId) ?? {},
        userData: Buffer.alloc(0),
      }),
    }));
  },
  protocol({ topics }: { topics: string[] }) {
    return {
      name: CO_PARTITION_ASSIGNER,
      metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }),
    };
  },
});
