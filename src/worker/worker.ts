import type { Admin, Consumer, EachBatchPayload, Producer } from 'kafkajs';
import type { RedisClient } from '../redis/client';
import type { Config } from '../config';
import { readLiveFigures } from '../evaluate/store';
import type { DecodeLimits } from '../ingest';
import { watchConsumer } from '../kafka/liveness';
import type { ConsumerLiveness } from '../kafka/liveness';
import { OffsetTracker } from '../kafka/offsets';
import { SerialSender } from '../kafka/serial-sender';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import { backendName, tf } from '../model/tf';
import { ModelRegistry } from '../registry';
import { ScoreBatcher } from '../score';
import { Shadow } from '../shadow';
import { checkpointRefusals, CheckpointStore, Incarnations, MachineStore } from '../state';
import { BatchStep, batchSettings } from './batch';
import { createWorkerClients } from './clients';
import { JoinGate } from './join';
import { decodeBatch } from './decode';
import { rejoinable } from '../kafka/group-errors';
import { Slicer, SLICE_BUDGET_MS } from '../loop';
import { ModelHolder } from './model-holder';
import type { BatchConsumer } from './ports';
import { ServingModel } from './scorer';
import type { Readiness, WorkerViewSource } from './views';

export type WorkerState = 'starting' | 'running' | 'draining' | 'stopped' | 'failed';

/**
 * `pdm worker`: the process shell around the batch step (`BatchStep`, which holds the at-least-once
 * transaction). It builds the Kafka, Redis and model clients, joins the consumer group over readings + logs
 * (co-partitioned), gates readings on the logs of the same partition (the event-time join), serialises the
 * batches of one partition, follows the registry, and drains on stop. Its HTTP views are in `views.ts`.
 */
export class Worker {
  state: WorkerState = 'starting';
  /** What the HTTP views read (`workerHandlers`). */
  readonly view: WorkerViewSource;
  private readonly redis: RedisClient;
  private readonly consumer: Consumer;
  private readonly producer: Producer;
  private readonly admin: Admin;
  private readonly models: ModelHolder;
  /** The challenger on the registry's `shadow` pointer (champion/challenger, src/shadow). */
  private readonly shadow: Shadow;
  private readonly store: MachineStore;
  private readonly batcher: ScoreBatcher;
  private readonly step: BatchStep;
  private readonly offsets = new OffsetTracker();
  private readonly decodeLimits: DecodeLimits;
  private readonly partitionOf = new Map<string, number>();
  private readonly join: JoinGate;
  /** Each partition's topic incarnation, which bookmarks name and commits carry (src/state/incarnation.ts). */
  private readonly incarnations: Incarnations;
  private assigned = new Map<string, number[]>();
  /** Group membership and broker contact, from the consumer's events: /readyz turns 503 when the broker is gone. */
  private liveness: ConsumerLiveness | undefined;
  private timers: NodeJS.Timeout[] = [];
  private stopping: Promise<void> | undefined;
  /** Why fetching is paused (a model was promoted but none can serve), while it is. */
  private pausedFor: string | undefined;
  private consuming = false;
  /** The lag refresh in flight, shared by its callers. */
  private lagRefresh: Promise<void> | undefined;

  constructor(
    private readonly config: Config,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
    private readonly onFailure: (error: Error) => void = () => undefined,
    /** Observes every applied record (tests use it to see which worker handled which machine). */
    onApplied?: (topic: string, machineId: string, partition: number) => void,
  ) {
    const clients = createWorkerClients(config, logger);
    ({ redis: this.redis, consumer: this.consumer, producer: this.producer, admin: this.admin } = clients);
    const registry = new ModelRegistry(this.redis, config.redis.prefix);
    const expected = { window: config.model.window, textMaxLen: config.model.textMaxLen };
    this.models = new ModelHolder(registry, expected, logger.child({ stage: 'model' }), metrics);
    this.shadow = new Shadow(
      registry,
      expected,
      config,
      () => this.models.current?.meta.version,
      logger.child({ stage: 'shadow' }),
      metrics,
    );
    this.store = new MachineStore(config.maxMachines, config.idleEvictMs, Date.now, (id) =>
      this.partitionOf.delete(id),
    );
    const checkpoints = new CheckpointStore(
      this.redis,
      config.redis.prefix,
      undefined,
      checkpointRefusals(metrics.registry, logger),
    );
    this.batcher = new ScoreBatcher(
      () => this.models.current,
      config.scoring.batchSize,
      config.scoring.maxWaitMs,
      metrics,
    );
    this.incarnations = new Incarnations(
      async (topic) => {
        const [committed] = await this.admin.fetchOffsets({ groupId: config.kafka.groupId, topics: [topic] });
        return committed?.partitions ?? [];
      },
      // Inside the batch that minted it, while this member owns the partition.
      (topic, partition, offset, metadata) =>
        this.consumer.commitOffsets([{ topic, partition, offset: String(offset), metadata }]),
    );
    this.join = new JoinGate(this.offsets, config.topics.logs, () => this.refreshLag());
    this.decodeLimits = {
      maxRecordBytes: config.maxRecordBytes,
      maxFutureSkewMs: config.maxFutureSkewMs,
      now: Date.now,
      requireKey: true,
    };
    // Batches of several partitions run concurrently; their sends go out one at a time (see SerialSender).
    const producer = new SerialSender(this.producer);
    this.step = new BatchStep(
      batchSettings(config),
      {
        store: this.store,
        partitionOf: this.partitionOf,
        processed: (topic, partition, offset, ts) => this.offsets.processed(topic, partition, offset, ts),
      },
      {
        producer: {
          send: async (records) => void (await producer.sendBatch({ topicMessages: [...records], acks: -1 })),
        },
        checkpoints,
        model: new ServingModel(this.models, this.batcher, metrics, config.explainMaxPasses),
        clock: { now: Date.now },
        shadow: this.shadow.scorer,
      },
      metrics,
      logger,
      onApplied,
    );
    this.view = {
      store: this.store,
      checkpoints,
      model: () => this.models.current?.meta,
      shadow: () => this.shadow.meta,
      live: () => readLiveFigures(this.redis, config.redis.prefix),
      lag: () => this.offsets.entries(),
      readingsTopic: config.topics.readings,
      window: config.model.window,
    };
  }

  async start(): Promise<void> {
    const { consumer, config } = this;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => this.onAssignment(payload.memberAssignment));
    this.liveness = watchConsumer(consumer, config.kafka.sessionTimeoutMs, this.logger, Date.now, (error) =>
      this.fail(error),
    );
    await this.redis.ping();
    this.models.onChecked(() => this.followModel());
    await this.models.sync();
    if (!this.models.current)
      this.logger.warn(
        'no model registered yet: consuming and keeping state, not scoring (run `pdm train --once`)',
      );
    this.models.follow(config.modelPollIntervalMs);
    await this.shadow.start(config.modelPollIntervalMs);
    await Promise.all([this.producer.connect(), this.admin.connect(), consumer.connect()]);
    const fromBeginning = config.startFrom === 'earliest';
    await consumer.subscribe({ topics: [config.topics.readings, config.topics.logs], fromBeginning });
    await consumer.run({
      autoCommit: false,
      // Several partitions in flight at once so that the scorer can batch across them.
      partitionsConsumedConcurrently: 8,
      eachBatchAutoResolve: false,
      eachBatch: (payload) =>
        this.handleBatch(payload).catch((error: unknown) => {
          throw rejoinable(error);
        }),
    });
    this.consuming = true;
    this.followModel();
    this.timers.push(setInterval(() => void this.refreshLag(), 2_000));
    this.timers.push(
      setInterval(() => this.evictIdle(), Math.min(30_000, Math.max(1_000, config.idleEvictMs / 4))),
    );
    this.state = 'running';
    this.logger.info('worker running', {
      group: config.kafka.groupId,
      topics: [config.topics.readings, config.topics.logs],
      model: this.models.current?.meta.version ?? null,
      backend: backendName(),
    });
  }

  /**
   * Pauses both topics while a model was promoted but none can serve (refused, unreadable), and resumes
   * them when one loads. Before the first model ever, records are consumed unscored (nothing to wait for).
   */
  private followModel(): void {
    if (!this.consuming) return; // kafkajs pauses only a running consumer; start() calls this after run()
    const why = this.models.unusable;
    const topics = [{ topic: this.config.topics.readings }, { topic: this.config.topics.logs }];
    if (why !== undefined && this.pausedFor === undefined) {
      this.logger.error(
        'no usable model: partitions paused, nothing is applied or committed until one loads',
        {
          why,
        },
      );
      this.consumer.pause(topics);
    } else if (why === undefined && this.pausedFor !== undefined) {
      this.logger.info('a model loaded: partitions resumed', {
        model: this.models.current?.meta.version ?? null,
      });
      this.consumer.resume(topics);
    }
    this.pausedFor = why;
  }

  private fail(error: Error): void {
    if (this.state === 'failed' || this.state === 'stopped') return;
    this.state = 'failed';
    this.logger.error('worker failed', { error: error.message });
    this.onFailure(error);
  }

  /** Whether the latest assignment gives this member the partition. */
  private owns(topic: string, partition: number): boolean {
    return this.assigned.get(topic)?.includes(partition) ?? false;
  }

  private onAssignment(assignment: Record<string, number[]>): void {
    this.assigned = new Map(Object.entries(assignment).map(([t, ps]) => [t, [...ps].sort((a, b) => a - b)]));
    const mine = new Set(this.assigned.get(this.config.topics.readings) ?? []);
    // Machines on partitions we no longer own were checkpointed after their last batch; drop them.
    this.store.drop((id) => !mine.has(this.partitionOf.get(id) ?? -1));
    this.incarnations.clear();
    for (const [id, p] of this.partitionOf) if (!mine.has(p)) this.partitionOf.delete(id);
    for (const e of this.offsets.entries())
      if (!(this.assigned.get(e.topic) ?? []).includes(e.partition))
        this.offsets.forget(e.topic, e.partition);
    this.metrics.consumerLag.reset();
    this.metrics.machinesTracked.set(this.store.size);
    this.logger.info('partitions assigned', { assignment });
    // Known before the first batch arrives, so the join gate does not wait for it.
    void this.refreshLag();
  }

  /**
   * One refresh at a time: the first batches of every partition wait on the join gate for it together, and
   * each refresh is several admin round trips (four of them in parallel took 0.4 s at startup).
   */
  private refreshLag(): Promise<void> {
    this.lagRefresh ??= this.fetchLag().finally(() => (this.lagRefresh = undefined));
    return this.lagRefresh;
  }

  private async fetchLag(): Promise<void> {
    try {
      await this.offsets.refresh(this.admin, this.config.kafka.groupId, this.assigned, this.config.startFrom);
      for (const e of this.offsets.entries())
        this.metrics.consumerLag.set({ topic: e.topic, partition: String(e.partition) }, e.lag);
    } catch (error) {
      this.logger.debug('lag refresh failed', { error: (error as Error).message });
    }
  }

  private evictIdle(): void {
    for (const id of this.store.evict()) this.partitionOf.delete(id);
    this.metrics.machinesTracked.set(this.store.size);
    this.metrics.tensors.set(tf.memory().numTensors);
  }

  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (batch.messages.length === 0) return;
    const isReadings = batch.topic === this.config.topics.readings;
    const decoded = await decodeBatch(
      batch.messages,
      isReadings ? 'readings' : 'logs',
      this.decodeLimits,
      new Slicer(SLICE_BUDGET_MS, () => payload.heartbeat()),
    );
    if (isReadings) {
      const maxTs = decoded.reduce((max, d) => (d.ok ? Math.max(max, d.value.ts) : max), -Infinity);
      if (Number.isFinite(maxTs)) await this.join.awaitLogs(batch.partition, maxTs, payload);
    }
    const { topic, partition } = batch;
    const offsets = [Number(batch.messages[0]!.offset), Number(batch.messages.at(-1)!.offset)] as const;
    const incarnation = await this.incarnations.of(topic, partition, ...offsets);
    const metadata = this.incarnations.metadata(topic, partition) ?? null;
    const consumer: BatchConsumer = {
      isRunning: () => payload.isRunning(),
      // kafkajs's isStale covers seeks only: a rebalance that took the partition away while the batch ran
      // is known from the latest assignment.
      isStale: () => payload.isStale() || !this.owns(topic, partition),
      heartbeat: () => payload.heartbeat(),
      resolveOffset: (offset) => payload.resolveOffset(offset),
      pause: () => this.followModel(),
      // consumer.commitOffsets is a silent no-op once kafkajs stops running (its runner checks `running`),
      // and a graceful stop sets that before it waits for the batch in flight: the drain's last commit
      // would never happen. The batch's own commit goes to the group directly while the member is still in it.
      // The commit carries the partition's incarnation in its metadata: the next owner reads it back.
      commit: (offset) => {
        const committed = { partition, offset, metadata };
        return payload.isRunning()
          ? this.consumer.commitOffsets([{ topic, ...committed }])
          : payload.commitOffsetsIfNecessary({ topics: [{ topic, partitions: [committed] }] });
      },
    };
    await this.join.serialise(partition, () =>
      this.step.run({ topic, partition, incarnation, messages: batch.messages, decoded }, consumer),
    );
  }

  readiness(): Readiness {
    const reasons: string[] = [];
    if (this.state !== 'running') reasons.push(`worker is ${this.state}`);
    reasons.push(...(this.liveness?.reasons() ?? ['consumer not in its group']));
    if (!this.models.current) reasons.push('no model loaded');
    if (this.pausedFor !== undefined) reasons.push(`partitions paused: ${this.pausedFor}`);
    return { ready: reasons.length === 0, reasons };
  }

  /** Drains and closes; safe to call twice (returns the same promise). Each step has its own try/catch. */
  stop(): Promise<void> {
    this.stopping ??= this.drain();
    return this.stopping;
  }

  private async drain(): Promise<void> {
    const failed = this.state === 'failed';
    if (!failed) this.state = 'draining';
    this.timers.forEach(clearInterval);
    this.models.stop();
    this.shadow.stop();
    const step = async (what: string, fn: () => unknown) => {
      try {
        await fn();
      } catch (error) {
        this.logger.warn(`shutdown: ${what} failed`, { error: (error as Error).message });
      }
    };
    // consumer.disconnect stops fetching and waits for the batch in flight (which scores, publishes,
    // checkpoints and commits) before leaving the group.
    await step('flush scorer', () => this.batcher.flush());
    await step('consumer disconnect', () => this.consumer.disconnect());
    await step('producer disconnect', () => this.producer.disconnect());
    await step('admin disconnect', () => this.admin.disconnect());
    await step('redis quit', () => this.redis.quit());
    await step('model dispose', () => this.models.dispose());
    await step('shadow dispose', () => this.shadow.dispose());
    this.state = failed ? 'failed' : 'stopped';
  }
}
