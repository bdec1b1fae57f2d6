import { parseDuration } from '../config';
import type { Config } from '../config';
import { redactedConfig } from '../config/resolved';
import type { CommandSpec, ParsedArgs } from './args';
import { createTopics } from '../kafka/topics';
import { createLogger } from '../log';
import { createMetrics } from '../metrics';
import { runSimulate, SIMULATE_FLAGS, SIMULATE_NOTES } from '../simulate';
import { UsageError } from './args';
import { ProgressLine, simulateProgressLogger, trainProgressHooks } from './progress';
import { parseTopArgs, runTop, TOP_FLAGS } from './top';
import { REDIS_FLAGS, runRedisCommand } from './redis';
import { runStack } from './stack';

export interface Command extends CommandSpec {
  run(config: Config, args: ParsedArgs): Promise<number>;
}

/** Runs `body` with an AbortSignal that the first SIGINT or SIGTERM aborts. */
async function untilSignal(body: (signal: AbortSignal) => Promise<number>): Promise<number> {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    return await body(controller.signal);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

/** A flag that must be an integer in [min, max]. */
function intFlag(args: ParsedArgs, name: string, fallback: number, min: number, max: number): number {
  const text = args.flags[name];
  const value = text === undefined ? fallback : /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max)
    throw new UsageError(`--${name} must be an integer in ${min}…${max}, got "${text}"`);
  return value;
}

// The commands that load TensorFlow import it when they run, so `pdm --help` and usage errors answer at once.
export const COMMANDS: readonly Command[] = [
  {
    name: 'worker',
    summary: 'consume readings + logs, score, alert; HTTP on PDM_HTTP_PORT',
    flags: {},
    run: async (config) => (await import('../worker/run')).runWorker(config),
  },
  {
    name: 'train',
    args: '--once',
    summary: 'one training round over the topics; prints a JSON summary',
    flags: {
      once: {
        type: 'boolean',
        help: 'required: one round, then exit (the long-lived loop is `pdm trainer`)',
      },
      branches: { type: 'string', value: 'B', default: 'both', help: 'model inputs: both, sensors or text' },
      search: {
        type: 'string',
        value: 'N',
        default: '1',
        help: 'model configurations to try, 1 to 100, within PDM_TRAIN_SEARCH_BUDGET',
      },
      'no-promote': { type: 'boolean', help: 'register the new model without promoting it' },
    },
    notes:
      'Exit 0 with the summary on stdout; exit 3 when training was skipped (too few labelled windows, lock held).',
    async run(config, args) {
      if (args.flags.once !== 'true')
        throw new UsageError('pdm train needs --once (the long-lived loop is `pdm trainer`)');
      const branches = args.flags.branches ?? 'both';
      if (branches !== 'both' && branches !== 'sensors' && branches !== 'text')
        throw new UsageError('--branches must be both, sensors or text');
      const search = intFlag(args, 'search', 1, 1, 100);
      const { trainOnce, TrainingError } = await import('../train');
      // In a terminal: a bar fed per batch (onProgress) and per epoch (the logger); piped: JSON lines only.
      const progress = trainProgressHooks(
        createLogger(config.logLevel, { role: 'train' }),
        process.stdout,
        config.training.epochs,
      );
      try {
        const summary = await trainOnce(config, progress.logger, {
          branches,
          search,
          promote: args.flags['no-promote'] !== 'true',
          ...(progress.onProgress ? { onProgress: progress.onProgress } : {}),
        });
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
    summary: 'long-lived retraining loop (new failures or interval); HTTP on PDM_HTTP_PORT',
    flags: {},
    run: async (config) =>
      (await import('../train/trainer')).runTrainer(
        config,
        createLogger(config.logLevel, { role: 'trainer' }),
        createMetrics(),
      ),
  },
  {
    name: 'evaluator',
    summary: 'live recall, precision, lead time from alerts + failures; drift; HTTP on PDM_HTTP_PORT',
    flags: {},
    run: async (config) => (await import('../evaluate')).runEvaluator(config),
  },
  {
    name: 'model',
    args: 'list | promote <version> | rollback | shadow <version> | shadow --clear | compare',
    maxPositionals: 2,
    summary: 'the model registry in Redis',
    flags: { clear: { type: 'boolean', help: 'with `shadow`: end shadow scoring' } },
    run: async (config, args) =>
      (await import('./model')).runModelCommand(
        config,
        args.positional[0],
        args.positional[1],
        args.flags.clear === 'true',
      ),
  },
  {
    name: 'simulate',
    summary: 'a synthetic fleet: readings, logs and failures',
    flags: SIMULATE_FLAGS,
    notes: SIMULATE_NOTES,
    run: (config, args) =>
      untilSignal((signal) => {
        // In a terminal the backfill shows a progress line; piped, its JSON progress lines stay.
        const logger = process.stdout.isTTY
          ? simulateProgressLogger(createLogger(config.logLevel), new ProgressLine(process.stdout))
          : undefined;
        return runSimulate(config, args, signal, undefined, logger);
      }),
  },
  {
    name: 'top',
    summary: 'the machines most at risk across the workers, refreshed',
    flags: TOP_FLAGS,
    run: (config, args) =>
      untilSignal((signal) => runTop(config, parseTopArgs(args, config), process.stdout, signal)),
  },
  {
    name: 'demo',
    summary: 'the whole loop locally (npm run demo sets up and starts the stack first)',
    flags: {
      for: { type: 'string', value: 'D', default: 'until Ctrl-C', help: 'stop after this long (e.g. 30s)' },
    },
    async run(config, args) {
      const runFor = args.flags.for;
      let runForMs: number | undefined;
      try {
        runForMs = runFor === undefined ? undefined : parseDuration(runFor);
      } catch (error) {
        throw new UsageError(`--for: ${(error as Error).message}`);
      }
      // The demo trains for 4 epochs (minutes on 2 cores) unless PDM_TRAIN_EPOCHS is given.
      const epochsGiven =
        args.flags['train-epochs'] !== undefined || process.env.PDM_TRAIN_EPOCHS !== undefined;
      return (await import('../demo')).runDemo(config, {
        runForMs,
        trainEpochs: epochsGiven ? config.training.epochs : 4,
      });
    },
  },
  {
    name: 'topics',
    args: 'create',
    maxPositionals: 1,
    summary: 'create the contract topics (readings and logs co-partitioned)',
    flags: {
      partitions: { type: 'string', value: 'N', default: '4', help: 'partitions of each topic' },
      replication: { type: 'string', value: 'R', default: '1', help: 'replication factor' },
    },
    async run(config, args) {
      if (args.positional[0] !== 'create')
        throw new UsageError(
          args.positional[0] === undefined
            ? 'topics: an action is needed (create)'
            : `topics: unknown action "${args.positional[0]}" (create)`,
        );
      const partitions = intFlag(args, 'partitions', 4, 1, 10_000);
      const replication = intFlag(args, 'replication', 1, 1, 100);
      const created = await createTopics(config, { partitions, replication });
      process.stdout.write(`${created.length ? `created ${created.join(', ')}` : 'all topics exist'}\n`);
      return 0;
    },
  },
  {
    name: 'replay',
    args: '--from <time>',
    summary: 're-score history from a time: resets the group offsets and the machine states',
    flags: {
      from: { type: 'string', value: 'ISO|ms', help: 'required: Kafka record time to replay from' },
      'dry-run': {
        type: 'boolean',
        help: 'print the offsets and checkpoints it would reset, change nothing',
      },
    },
    notes:
      'Stop the workers of PDM_GROUP_ID first (exit 3 otherwise). Prints a JSON plan; see docs/semantics.md (Replay).',
    async run(config, args) {
      const text = args.flags.from;
      const fromMs = text === undefined ? NaN : /^\d+$/.test(text) ? Number(text) : Date.parse(text);
      if (!Number.isFinite(fromMs))
        throw new UsageError(`--from must be an ISO-8601 time or epoch milliseconds, got "${text ?? ''}"`);
      return (await import('../replay')).runReplay(config, {
        fromMs,
        dryRun: args.flags['dry-run'] === 'true',
      });
    },
  },
  {
    name: 'redis',
    args: 'copy --from <url>',
    maxPositionals: 1,
    summary: "copy a single Redis's pdm keys into the Redis Cluster of PDM_REDIS_URL (cluster key layout)",
    flags: REDIS_FLAGS,
    notes:
      'Needs PDM_REDIS_CLUSTER=true; stop every pdm process first. Prints what it copied as JSON; see docs/redis.md.',
    run: runRedisCommand,
  },
  {
    name: 'config',
    summary: 'print the resolved configuration (environment and flags) as JSON, secrets masked',
    flags: {},
    async run(config) {
      process.stdout.write(JSON.stringify(redactedConfig(config), null, 2) + '\n');
      return 0;
    },
  },
  {
    name: 'stack',
    args: 'up | down | status',
    maxPositionals: 1,
    summary: 'local Kafka + Redis on loopback (reuses running ones); status exits 3 unless both answer',
    flags: {},
    notes:
      'Kafka version: PDM_KAFKA_VERSION (default in deploy/kafka/pom.xml); data under PDM_STACK_DIR (default .pdm/).',
    run: (config, args) => runStack(config, args.positional[0]),
  },
];
