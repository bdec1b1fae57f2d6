import { parseDuration } from '../config';
import type { Config } from '../config';
import type { ParsedArgs } from './args';
import { createTopics } from '../kafka/topics';
import { runWorker } from '../worker/run';
import { createLogger } from '../log';
import { trainOnce, TrainingError } from '../train';
import { runModelCommand } from './model';
import { runTrainer } from '../train/trainer';
import { createMetrics } from '../metrics';
import { runSimulate, SIMULATE_SWITCHES } from '../simulate';
import { runDemo } from '../demo';
import { runEvaluator } from '../evaluate';
import { UsageError } from './args';
import { ProgressLine, simulateProgressLogger, trainProgressHooks } from './progress';
import { parseTopArgs, runTop, TOP_SWITCHES, TOP_USAGE } from './top';

export interface Command {
  readonly name: string;
  readonly usage: string;
  readonly summary: string;
  readonly switches?: readonly string[];
  run(config: Config, args: ParsedArgs): Promise<number>;
}

export const COMMANDS: readonly Command[] = [
  {
    name: 'worker',
    usage: 'worker',
    summary: 'consume readings + logs, score, alert; HTTP on PDM_HTTP_PORT',
    run: (config) => runWorker(config),
  },
  {
    name: 'train',
    usage: 'train --once [--branches both|sensors|text] [--search N]',
    summary: 'one training round over the topics; prints a JSON summary',
    switches: ['once', 'no-promote'],
    async run(config, args) {
      if (args.flags.once !== 'true') throw new UsageError('pdm train --once (the long-lived loop is `pdm trainer`)');
      const branches = args.flags.branches ?? 'both';
      if (branches !== 'both' && branches !== 'sensors' && branches !== 'text') throw new UsageError('--branches must be both, sensors or text');
      const search = Number(args.flags.search ?? 1);
      if (!Number.isInteger(search) || search < 1 || search > 100) throw new UsageError('--search N: N is how many model configurations to try, 1 to 100');
      // In a terminal: a bar fed per batch (onProgress) and per epoch (the logger); piped: JSON lines only.
      const progress = trainProgressHooks(createLogger(config.logLevel, { role: 'train' }), process.stdout, config.training.epochs);
      try {
        const summary = await trainOnce(config, progress.logger, { branches, search, promote: args.flags['no-promote'] !== 'true', ...(progress.onProgress ? { onProgress: progress.onProgress } : {}) });
        progress.done();
        process.stdout.write(JSON.stringify(summary) + '\n');
        return 0;
      } catch (error) {
        progress.done();
        if (!(error instanceof TrainingError)) throw error;
        process.stderr.write(`pdm train: ${error.message}\n`);
        process.stdout.write(JSON.stringify({ error: error.code, message: error.message }) + '\n');
        return 3;
      }
    },
  },
  {
    name: 'trainer',
    usage: 'trainer',
    summary: 'long-lived retraining loop (new failures or interval); HTTP on PDM_HTTP_PORT',
    run: (config) => runTrainer(config, createLogger(config.logLevel, { role: 'trainer' }), createMetrics()),
  },
  {
    name: 'evaluator',
    usage: 'evaluator',
    summary: 'live recall, precision, lead time from alerts + failures; drift; HTTP on PDM_HTTP_PORT',
    run: (config) => runEvaluator(config),
  },
  {
    name: 'model',
    usage: 'model list|promote <v>|rollback',
    summary: 'the model registry in Redis',
    run: (config, args) => runModelCommand(config, args.positional[0], args.positional[1]),
  },
  {
    name: 'simulate',
    usage: 'simulate [--machines N] [--history 30d] [--rate R]',
    summary: 'a synthetic fleet: readings, logs and failures (pdm simulate --help)',
    switches: [...SIMULATE_SWITCHES, 'help'],
    async run(config, args) {
      const controller = new AbortController();
      const stop = () => controller.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        // In a terminal the backfill shows a progress line; piped, its JSON progress lines stay.
        const logger = process.stdout.isTTY ? simulateProgressLogger(createLogger(config.logLevel), new ProgressLine(process.stdout)) : undefined;
        return await runSimulate(config, args, controller.signal, undefined, logger);
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    },
  },
  {
    name: 'top',
    usage: 'top [--workers a,b | --redis] [--top N]',
    summary: 'the machines most at risk across the workers, refreshed (pdm top --help)',
    switches: [...TOP_SWITCHES, 'help'],
    async run(config, args) {
      if (args.flags.help === 'true') {
        process.stdout.write(TOP_USAGE);
        return 0;
      }
      const controller = new AbortController();
      const stop = () => controller.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        return await runTop(config, parseTopArgs(args, config), process.stdout, controller.signal);
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    },
  },
  {
    name: 'demo',
    usage: 'demo [--for 30s]',
    summary: 'the whole loop locally (npm run demo sets up and starts the stack first)',
    run(config, args) {
      const runFor = args.flags.for;
      let runForMs: number | undefined;
      try {
        runForMs = runFor === undefined ? undefined : parseDuration(runFor);
      } catch (error) {
        throw new UsageError(`--for: ${(error as Error).message}`);
      }
      return runDemo(config, { runForMs });
    },
  },
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
