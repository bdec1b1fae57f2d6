import type { Config } from '../config';
import type { ParsedArgs } from './args';
import { createTopics } from '../kafka/topics';

export interface Command {
  readonly name: string;
  readonly usage: string;
  readonly summary: string;
  readonly switches?: readonly string[];
  run(config: Config, args: ParsedArgs): Promise<number>;
}

export const COMMANDS: readonly Command[] = [
  {
    name: 'topics',
    usage: 'topics create [--partitions N]',
    summary: 'create the contract topics (readings and logs co-partitioned)',
    async run(config, args) {
      if (args.positional[0] !== 'create') throw new Error('pdm topics create [--partitions N] [--replication R]');
      const partitions = Number(args.flags.partitions ?? 4);
      const replication = Number(args.flags.replication ?? 1);
      const created = await createTopics(config, { partitions, replication });
      process.stdout.write(`${created.length ? `created ${created.join(', ')}` : 'all topics exist'}\n`);
      return 0;
    },
  },
];
