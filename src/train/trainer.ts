import type { ChildProcess } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Consumer } from 'kafkajs';
import { Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import type { Config } from '../config';
import { startHttp } from '../http/server';
import { createKafka } from '../kafka/client';
import { watchConsumer } from '../kafka/liveness';
import type { ConsumerLiveness } from '../kafka/liveness';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import { openRedis } from '../redis/client';
import type { RedisClient } from '../redis/client';
import { ModelRegistry } from '../registry';
import { ConfigError, EXIT_CODES } from '../errors';
import { DriftTrigger } from './drift-trigger';
import { spawnPdm } from '../cli/child';
import type { StoreReport } from './store';

/**
 * The sample store's size after the last round, from its summary: `pdm_train_store_bytes` against
 * `pdm_train_store_budget_bytes`, and `pdm_train_store_windows{kind}` (near, sample, pending).
 */
export function storeGauges(registry: Registry): (report: StoreReport) => void {
  const r = [registry];
  const bytes = new Gauge({
    name: 'pdm_train_store_bytes',
    help: 'Bytes the training sample store holds',
    registers: r,
  });
  const budget = new Gauge({
    name: 'pdm_train_store_budget_bytes',
    help: 'PDM_TRAIN_STORE_BYTES',
    registers: r,
  });
  const windows = new Gauge({
    name: 'pdm_train_store_windows',
    help: 'Windows the training sample store holds, by kind (near a failure, sampled, not yet decided)',
    labelNames: ['kind'],
    registers: r,
  });
  return (report) => {
    bytes.set(report.bytes);
    budget.set(report.budgetBytes);
    for (const [kind, n] of Object.entries(report.windows)) windows.set({ kind }, n);
  };
}

export interface TrainingRun {
  /** refused: the child exited 2, a configuration no round can run with (retrying cannot help). */
  readonly outcome: 'promoted' | 'registered' | 'skipped' | 'refused' | 'failed';
  /** The child's error line (`pdm: …` on its stderr), when it printed one. */
  readonly error?: string;
  readonly seconds: number;
  readonly summary: Record<string, unknown> | undefined;
  readonly eventLoopP99Ms: number;
}

/** What a `pdm train --once` exit code (and its summary) says about the round. */
function outcomeOf(
  code: number | null,
  summary: Record<string, unknown> | undefined,
): TrainingRun['outcome'] {
  if (code === EXIT_CODES.ok) return summary?.promoted ? 'promoted' : 'registered';
  if (code === EXIT_CODES.noModel) return 'skipped';
  if (code === EXIT_CODES.usage) return 'refused';
  return 'failed';
}

/**
 * Runs `pdm train --once` in a child process: training is seconds to minutes of synchronous TensorFlow
 * work, and off this process's event loop it cannot delay kafkajs heartbeats or HTTP probes here. The child
 * trains with this process's resolved config (flags included), not with the environment's.
 */
export function runTrainingChild(
  config: Config,
  logger: Logger,
  onSpawn: (child: ChildProcess) => void = () => undefined,
): Promise<TrainingRun> {
  const started = Date.now();
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  return new Promise((resolve) => {
    const child = spawnPdm(['train', '--once'], config, ['ignore', 'pipe', 'pipe']);
    onSpawn(child);
    let stdout = '';
    let error: string | undefined;
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n')) {
        if (!line.trim() || line.includes('Orthogonal initializer')) continue;
        try {
          const { msg, ...rest } = JSON.parse(line) as { msg: string };
          logger.info(`train: ${msg}`, rest);
        } catch {
          if (line.startsWith('pdm: ')) error = line.slice('pdm: '.length);
          logger.info('train', { line: line.slice(0, 500) });
        }
      }
    });
    child.on('close', (code) => {
      loop.disable();
      const last = stdout
        .trim()
        .split('\n')
        .reverse()
        .find((l) => l.startsWith('{'));
      let summary: Record<string, unknown> | undefined;
      try {
        summary = last ? (JSON.parse(last) as Record<string, unknown>) : undefined;
      } catch {
        summary = undefined;
      }
      resolve({
        outcome: outcomeOf(code, summary),
        ...(error ? { error } : {}),
        seconds: (Date.now() - started) / 1000,
        summary,
        eventLoopP99Ms: loop.percentile(99) / 1e6,
      });
    });
  });
}

/**
 * `pdm trainer`: retrains after PDM_RETRAIN_FAILURES new labelled failures or every PDM_RETRAIN_INTERVAL,
 * whichever comes first (and at start when no model serves). Only one process trains at a time: the
 * child takes a Redis lock with expiry, and a run that finds it held is counted as `skipped`.
 */
export class Trainer {
  private consumer: Consumer | undefined;
  private newFailures = 0;
  private lastRunAt = 0;
  private running: Promise<void> | undefined;
  private child: ChildProcess | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private liveness: ConsumerLiveness | undefined;
  /** Only with PDM_RETRAIN_DRIFT_PSI set: reads the evaluator's drift figures and the serving version. */
  private drift: { redis: RedisClient; trigger: DriftTrigger; registry: ModelRegistry } | undefined;
  lastRun: TrainingRun | undefined;
  private readonly reportStore: (report: StoreReport) => void;
  private refuse: (error: string) => void = () => undefined;
  /**
   * Settles with the child's error when a round is refused for its configuration (say a
   * PDM_TRAIN_STORE_BYTES too small for the fleet, with the smallest that works): the first round runs at
   * start, so the trainer refuses at start instead of failing every round quietly.
   */
  readonly refused = new Promise<string>((resolve) => (this.refuse = resolve));

  constructor(
    private readonly config: Config,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {
    this.reportStore = storeGauges(metrics.registry);
  }

  async start(): Promise<void> {
    const kafka = createKafka(this.config, this.logger.child({ stage: 'kafka' }));
    // Its own group: counting new failures must not take partitions from the workers.
    this.consumer = kafka.consumer({
      groupId: `${this.config.kafka.groupId}.trainer`,
      sessionTimeout: this.config.kafka.sessionTimeoutMs,
    });
    this.liveness = watchConsumer(this.consumer, this.config.kafka.sessionTimeoutMs, this.logger);
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.config.topics.failures, fromBeginning: false });
    await this.consumer.run({
      eachMessage: async () => {
        this.newFailures++;
        if (this.newFailures >= this.config.training.retrainAfterFailures)
          this.trigger(`${this.newFailures} new failures`);
      },
    });
    this.drift = this.driftTrigger();
    this.timer = setInterval(
      () => {
        if (Date.now() - this.lastRunAt >= this.config.training.retrainIntervalMs) this.trigger('interval');
        else void this.checkDrift();
      },
      Math.min(60_000, this.config.training.retrainIntervalMs),
    );
    this.trigger('start');
  }

  private driftTrigger(): Trainer['drift'] {
    const { retrainDriftPsi: psi, retrainDriftMinValues: minValues } = this.config.training;
    if (psi === undefined) return undefined;
    const redis = openRedis(this.config);
    redis.on('error', (error: Error) =>
      this.logger.warn('redis error', { stage: 'drift', error: error.message }),
    );
    const { prefix } = this.config.redis;
    // Figures the evaluator has not refreshed for ten of its intervals (at least 5 min) no longer say anything.
    const maxAgeMs = Math.max(300_000, 10 * this.config.evaluator.intervalMs);
    return {
      redis,
      registry: new ModelRegistry(redis, prefix),
      trigger: new DriftTrigger(redis, prefix, { psi, minValues, maxAgeMs }),
    };
  }

  /** Starts a round when the serving version's inputs drifted (PDM_RETRAIN_DRIFT_PSI); Redis trouble waits. */
  private async checkDrift(): Promise<void> {
    if (!this.drift || this.running || this.stopped) return;
    try {
      const reason = await this.drift.trigger.check(await this.drift.registry.currentVersion());
      if (reason) this.trigger(reason);
    } catch (error) {
      this.logger.warn('drift check failed; next check in a minute', { error: (error as Error).message });
    }
  }

  /** False once its failures consumer is dead for good: the orchestrator should restart the process. */
  healthy(): boolean {
    return this.liveness?.healthy() ?? true;
  }

  /** Ready while it counts failures: its consumer is in the group and the broker answers. */
  readiness(): { ready: boolean; reasons: string[] } {
    const reasons = this.stopped
      ? ['trainer is stopping']
      : (this.liveness?.reasons() ?? ['trainer not started']);
    return { ready: reasons.length === 0, reasons };
  }

  /** Starts a run unless one is in progress. */
  trigger(reason: string): void {
    if (this.running || this.stopped) return;
    this.newFailures = 0;
    this.lastRunAt = Date.now();
    this.logger.info('training run starting', { reason });
    this.running = runTrainingChild(this.config, this.logger, (child) => (this.child = child)).then((run) => {
      this.child = undefined;
      this.lastRun = run;
      this.running = undefined;
      this.metrics.trainingRuns.inc({ outcome: run.outcome });
      this.metrics.trainingDuration.observe(run.seconds);
      if (run.outcome === 'refused') {
        this.logger.error('training refused: this configuration cannot train; the trainer stops', {
          reason,
          error: run.error ?? null,
        });
        this.refuse(run.error ?? 'pdm train --once exited 2 (a configuration error)');
        return;
      }
      const store = run.summary?.store as StoreReport | undefined;
      if (store) this.reportStore(store);
      this.logger.info('training run finished', {
        reason,
        outcome: run.outcome,
        seconds: run.seconds,
        eventLoopDelayP99Ms: Math.round(run.eventLoopP99Ms * 10) / 10,
        version: run.summary?.version ?? null,
        metrics: run.summary?.metrics ?? run.summary?.message ?? null,
      });
    });
  }

  /** Stops the loop and a training run in progress (its Redis lock expires by itself within a minute). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.child?.kill('SIGTERM');
    await this.consumer?.disconnect().catch(() => undefined);
    await this.running;
    await this.drift?.redis.quit().catch(() => undefined);
  }
}

export async function runTrainer(config: Config, logger: Logger, metrics: Metrics): Promise<number> {
  const trainer = new Trainer(config, logger, metrics);
  const http = await startHttp(
    {
      registry: metrics.registry,
      healthy: () => trainer.healthy(),
      ready: () => trainer.readiness(),
      model: () => ({ lastRun: trainer.lastRun ?? null }),
    },
    config.http.host,
    config.http.port,
  );
  logger.info('trainer running', {
    retrainAfterFailures: config.training.retrainAfterFailures,
    retrainIntervalMs: config.training.retrainIntervalMs,
    retrainDriftPsi: config.training.retrainDriftPsi ?? 'off',
    http: http.port,
  });
  await trainer.start();
  const refused = await Promise.race([
    trainer.refused,
    new Promise<undefined>((resolve) => {
      process.once('SIGTERM', () => resolve(undefined));
      process.once('SIGINT', () => resolve(undefined));
    }),
  ]);
  logger.info('trainer stopping (ends a run in progress)');
  await trainer.stop();
  await http.close();
  if (refused === undefined) return 0;
  throw new ConfigError(refused);
}
