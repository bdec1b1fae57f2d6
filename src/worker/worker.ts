import { isUtf8 } from 'node:buffer';
import type { Admin, Consumer, EachBatchPayload, KafkaMessage, Producer, Message } from 'kafkajs';
import type Redis from 'ioredis';
import { createRedis } from '../redis/client';
import type { Config } from '../config';
import { alertId, applyScore, isFlap } from '../alerts';
import type { AlertMessage } from '../alerts';
import { fleetEntry, rankFleet } from '../fleet';
import type { FleetEntry, FleetView } from '../fleet';
import { decodeLog, decodeReading } from '../ingest';
import type { Decoded, DecodeLimits, LogEntry, Reading } from '../ingest';
import { coPartitionAssigner } from '../kafka/assigner';
import { createKafka } from '../kafka/client';
import { OffsetTracker } from '../kafka/offsets';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import { backendName, tf } from '../model/tf';
import { ModelRegistry } from '../registry';
import { retry } from '../retry';
import { featurize, ScoreBatcher, StaleModelError } from '../score';
import type { ScoreResult } from '../score';
import { addLog, addReading, CheckpointStore, MachineStore, wordsForWindow } from '../state';
import type { MachineState, TimedValues, WindowLimits } from '../state';
import { textToWordSequence } from '../tokenize';
import { buildDeadLetter, chunkBySize, isRecordRefused, pointerDeadLetter } from './dead-letter';
import { ModelHolder } from './model-holder';

export type WorkerState = 'starting' | 'running' | 'draining' | 'stopped' | 'failed';

/** A window handed to the scorer: a snapshot, so that a model swap can re-featurise the same inputs. */
interface Scoring {
  readonly state: MachineState;
  readonly ts: number;
  readonly readings: readonly TimedValues[];
  readonly words: readonly string[];
  readonly producedAt: number;
}

interface Applied {
  readonly deadLetter?: string;
  readonly score?: Scoring;
}

export interface MachineView {
  machineId: string;
  lastTs: string | null;
  windowFill: number;
  score: number | null;
  scoredTs: string | null;
  modelVersion: string | null;
  alert: 'raised' | 'clear';
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * `pdm worker`: a consumer group over readings + logs (co-partitioned), per-machine event-time windows,
 * micro-batched scoring, alerts. Per batch: decode → apply to state → score → publish alerts, scores and
 * dead letters and wait for their acks → checkpoint the touched machines → commit the batch's offsets.
 * That order makes the pipeline at-least-once end to end: a crash anywhere re-delivers records whose
 * outputs may be re-published with the same deterministic alertId, never records whose outputs are lost.
 */
export class Worker {
  state: WorkerState = 'starting';
  failure: Error | undefined;
  private readonly redis: Redis;
  private readonly consumer: Consumer;
  private readonly producer: Producer;
  private readonly admin: Admin;
  private readonly models: ModelHolder;
  private readonly store: MachineStore;
  private readonly checkpoints: CheckpointStore;
  private readonly batcher: ScoreBatcher;
  private readonly offsets = new OffsetTracker();
  private readonly limits: WindowLimits;
  private readonly decodeLimits: DecodeLimits;
  private readonly partitionOf = new Map<string, number>();
  private readonly partitionLocks = new Map<number, Promise<void>>();
  private assigned = new Map<string, number[]>();
  private inGroup = false;
  /** Last heartbeat or fetch answered by the broker: /readyz turns 503 when the broker is gone. */
  private lastBrokerContact = 0;
  private timers: NodeJS.Timeout[] = [];
  private stopping: Promise<void> | undefined;
  private readonly onFailure: (error: Error) => void;

  constructor(
    private readonly config: Config,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
    onFailure: (error: Error) => void = () => undefined,
    /** Observes every applied record (tests use it to see which worker handled which machine). */
    private readonly onApplied?: (topic: string, machineId: string, partition: number) => void,
  ) {
    this.onFailure = onFailure;
    // Every call settles (bounded retries, command timeout): a Redis outage surfaces as an error that
    // fails the batch, which kafkajs retries, rather than a promise that never resolves.
    this.redis = createRedis(config);
    this.redis.on('error', (error: Error) => this.logger.warn('redis error', { stage: 'redis', error: error.message }));
    const kafka = createKafka(config, logger.child({ stage: 'kafka' }));
    this.consumer = kafka.consumer({
      groupId: config.kafka.groupId,
      partitionAssigners: [coPartitionAssigner],
      // A killed worker's partitions move after the session timeout: shorter recovers faster, but a
      // worker must heartbeat within it even while scoring a large batch.
      sessionTimeout: config.kafka.sessionTimeoutMs,
      heartbeatInterval: Math.max(500, Math.min(3_000, Math.floor(config.kafka.sessionTimeoutMs / 10))),
      maxBytesPerPartition: 1_048_576,
    });
    // Idempotent, and retrying without a count limit: while the broker is away the batch waits (its offsets
    // stay uncommitted) instead of failing records. kafkajs warns when an idempotent producer's retries are capped.
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, retry: { retries: Number.MAX_SAFE_INTEGER, maxRetryTime: 10_000 } });
    this.admin = kafka.admin();
    this.models = new ModelHolder(new ModelRegistry(this.redis, config.redis.prefix), { window: config.model.window, textMaxLen: config.model.textMaxLen }, logger.child({ stage: 'model' }), metrics);
    this.store = new MachineStore(config.maxMachines, config.idleEvictMs);
    this.checkpoints = new CheckpointStore(this.redis, config.redis.prefix);
    this.batcher = new ScoreBatcher(() => this.models.current, config.scoring.batchSize, config.scoring.maxWaitMs, metrics);
    this.limits = { window: config.model.window, allowedLatenessMs: config.allowedLatenessMs, logLookbackMs: config.logLookbackMs, maxLogTokens: config.maxLogTokens };
    this.decodeLimits = { maxRecordBytes: config.maxRecordBytes, maxFutureSkewMs: config.maxFutureSkewMs, now: Date.now, requireKey: true };
  }

  async start(): Promise<void> {
    const { consumer, config } = this;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      this.onAssignment(payload.memberAssignment);
      this.inGroup = true;
      this.lastBrokerContact = Date.now();
    });
    const contact = () => {
      this.lastBrokerContact = Date.now();
    };
    consumer.on(consumer.events.HEARTBEAT, contact);
    consumer.on(consumer.events.FETCH, contact);
    consumer.on(consumer.events.REBALANCING, () => {
      this.inGroup = false;
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.inGroup = false;
      if (!payload.restart) this.fail(new Error(`consumer crashed and will not restart: ${payload.error.message}`));
      else this.logger.warn('consumer crashed; kafkajs restarts it', { error: payload.error.message });
    });
    await this.redis.ping();
    await this.models.sync();
    if (!this.models.current) this.logger.warn('no model registered yet: consuming and keeping state, not scoring (run `pdm train --once`)');
    this.models.follow(config.modelPollIntervalMs);
    await Promise.all([this.producer.connect(), this.admin.connect(), consumer.connect()]);
    const fromBeginning = config.startFrom === 'earliest';
    await consumer.subscribe({ topics: [config.topics.readings, config.topics.logs], fromBeginning });
    await consumer.run({
      autoCommit: false,
      // Several partitions in flight at once so that the scorer can batch across them.
      partitionsConsumedConcurrently: 8,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.handleBatch(payload),
    });
    this.timers.push(setInterval(() => void this.refreshLag(), 2_000));
    this.timers.push(setInterval(() => this.evictIdle(), Math.min(30_000, Math.max(1_000, config.idleEvictMs / 4))));
    this.state = 'running';
    this.logger.info('worker running', { group: config.kafka.groupId, topics: [config.topics.readings, config.topics.logs], model: this.models.current?.meta.version ?? null, backend: backendName() });
  }

  private fail(error: Error): void {
    if (this.state === 'failed' || this.state === 'stopped') return;
    this.failure = error;
    this.state = 'failed';
    this.logger.error('worker failed', { error: error.message });
    this.onFailure(error);
  }

  private onAssignment(assignment: Record<string, number[]>): void {
    this.assigned = new Map(Object.entries(assignment).map(([t, ps]) => [t, [...ps].sort((a, b) => a - b)]));
    const mine = new Set(this.assigned.get(this.config.topics.readings) ?? []);
    // Machines on partitions we no longer own were checkpointed after their last batch; drop them.
    this.store.drop((id) => !mine.has(this.partitionOf.get(id) ?? -1));
    for (const [id, p] of this.partitionOf) if (!mine.has(p)) this.partitionOf.delete(id);
    for (const e of this.offsets.entries()) if (!(this.assigned.get(e.topic) ?? []).includes(e.partition)) this.offsets.forget(e.topic, e.partition);
    this.metrics.consumerLag.reset();
    this.metrics.machinesTracked.set(this.store.size);
    this.logger.info('partitions assigned', { assignment });
  }

  private async refreshLag(): Promise<void> {
    try {
      await this.offsets.refresh(this.admin, this.config.kafka.groupId, this.assigned, this.config.startFrom);
      for (const e of this.offsets.entries()) this.metrics.consumerLag.set({ topic: e.topic, partition: String(e.partition) }, e.lag);
    } catch (error) {
      this.logger.debug('lag refresh failed', { error: (error as Error).message });
    }
  }

  private evictIdle(): void {
    for (const id of this.store.evict()) this.partitionOf.delete(id);
    this.metrics.machinesTracked.set(this.store.size);
    this.metrics.tensors.set(tf.memory().numTensors);
  }

  /** Readings and logs of partition p are applied one batch at a time, so a checkpoint never holds half a batch. */
  private async withPartitionLock<T>(partition: number, fn: () => Promise<T>): Promise<T> {
    const previous = this.partitionLocks.get(partition) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    this.partitionLocks.set(partition, previous.then(() => mine));
    await previous;
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /**
   * The event-time join: a reading at t should see the logs up to t. When this partition's logs are
   * behind (a replay, or a slower logs fetch) wait for them, up to a bound, heartbeating meanwhile.
   */
  private async awaitLogs(partition: number, upToTs: number, payload: EachBatchPayload): Promise<void> {
    const topic = this.config.topics.logs;
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline && payload.isRunning() && !payload.isStale()) {
      const lag = this.offsets.lag(topic, partition);
      if (lag === 0 || this.offsets.maxEventTs(topic, partition) >= upToTs) return;
      if (lag === undefined) await this.refreshLag();
      await new Promise((r) => setTimeout(r, 50));
      await payload.heartbeat();
    }
  }

  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (batch.messages.length === 0) return;
    const isReadings = batch.topic === this.config.topics.readings;
    const decoded: Decoded<Reading | LogEntry>[] = batch.messages.map((m) =>
      // Lossy decoding would fold distinct binary keys into one machine (6d ff and 6d fe both read "m\uFFFD").
      m.key && !isUtf8(m.key)
        ? { ok: false, code: 'bad_key', message: `key is not valid UTF-8 (${m.key.length} bytes)` }
        : (isReadings ? decodeReading : decodeLog)(m.value, m.key?.toString(), this.decodeLimits),
    );
    if (isReadings) {
      const maxTs = decoded.reduce((max, d) => (d.ok ? Math.max(max, d.value.ts) : max), -Infinity);
      if (Number.isFinite(maxTs)) await this.awaitLogs(batch.partition, maxTs, payload);
    }
    await this.withPartitionLock(batch.partition, () => this.processBatch(payload, decoded));
  }

  /**
   * A batch either completes (outputs acked, checkpoint written, offsets committed) or leaves no trace in
   * memory: on any failure the machines it touched are dropped, so kafkajs's retry of the batch reloads
   * them from their last checkpoint — which matches the last committed offsets — and re-applies every record.
   */
  private async processBatch(payload: EachBatchPayload, decoded: readonly Decoded<Reading | LogEntry>[]): Promise<void> {
    const touched = new Map<string, MachineState>();
    try {
      await this.applyBatch(payload, decoded, touched);
    } catch (error) {
      this.store.drop((id) => touched.has(id));
      for (const id of touched.keys()) this.partitionOf.delete(id);
      this.logger.warn('batch failed; its machines will be reloaded from their checkpoints on retry', { topic: payload.batch.topic, partition: payload.batch.partition, machines: touched.size, error: (error as Error).message });
      throw error;
    }
  }

  private async applyBatch(payload: EachBatchPayload, decoded: readonly Decoded<Reading | LogEntry>[], touched: Map<string, MachineState>): Promise<void> {
    const { batch } = payload;
    const topic = batch.topic;
    if (!payload.isRunning() || payload.isStale()) return;
    const outputs: { topic: string; messages: Message[] }[] = [];
    const dlq: Message[] = [];
    const toScore: Scoring[] = [];
    await this.restoreStates(batch.messages);
    let lastOffset: string | undefined;
    batch.messages.forEach((message, i) => {
      const d = decoded[i]!;
      this.metrics.recordsConsumed.inc({ topic });
      let eventTs: number | undefined;
      if (!d.ok) dlq.push(this.deadLetter(topic, batch.partition, message, d.code, d.message));
      else {
        eventTs = d.value.ts;
        const state = this.stateFor(d.value.machineId, batch.partition);
        // Before applying: a failure after this point must undo it, and the idle sweep must not evict the
        // machine until its checkpoint is written (dirty machines are never evicted).
        touched.set(state.machineId, state);
        this.store.markDirty(state.machineId);
        const result = 'values' in d.value ? this.applyReading(state, d.value, message) : this.applyLog(state, d.value, message);
        this.onApplied?.(topic, state.machineId, batch.partition);
        if (result.deadLetter) dlq.push(this.deadLetter(topic, batch.partition, message, 'late', result.deadLetter));
        if (result.score) toScore.push(result.score);
      }
      this.offsets.processed(topic, batch.partition, Number(message.offset), eventTs);
      lastOffset = message.offset;
    });
    const alertsAcked = await this.scoreAndCollect(toScore, outputs);
    if (outputs.length) await this.producer.sendBatch({ topicMessages: outputs, acks: -1 });
    if (dlq.length) await this.sendDeadLetters(dlq);
    const ackedAt = Date.now();
    for (const producedAt of alertsAcked) this.metrics.eventToAlert.observe(Math.max(0, (ackedAt - producedAt) / 1000));
    // Redis may be briefly away: retry the checkpoint (heartbeating) while the partition is still ours,
    // rather than failing the batch and making kafkajs restart the consumer.
    const states = [...touched.values()]; // the objects this batch changed, whatever the store holds now
    await retry(() => this.checkpoints.save(states), {
      maxDelayMs: 2_000,
      keepGoing: () => payload.isRunning() && !payload.isStale(),
      onRetry: async (error, attempt) => {
        if (attempt === 1 || attempt % 10 === 0) this.logger.warn('checkpoint write failed; retrying', { stage: 'checkpoint', attempt, error: error.message });
        await payload.heartbeat().catch(() => undefined);
      },
    });
    this.store.clean(touched.keys());
    if (lastOffset === undefined) return;
    if (payload.isStale()) return; // the partition moved during the batch: its new owner re-reads from the last commit
    for (const message of batch.messages) payload.resolveOffset(message.offset);
    await this.consumer.commitOffsets([{ topic, partition: batch.partition, offset: String(Number(lastOffset) + 1) }]);
    await payload.heartbeat();
    this.metrics.machinesTracked.set(this.store.size);
  }

  /** Applies one valid reading; a record at or below the machine's applied offset was applied before a crash. */
  private applyReading(state: MachineState, reading: Reading, message: KafkaMessage): Applied {
    const offset = Number(message.offset);
    const topic = this.config.topics.readings;
    if (offset <= state.applied.readings) {
      this.metrics.recordsDropped.inc({ topic, reason: 'redelivered' });
      return {};
    }
    const newest = state.readings.at(-1)?.ts;
    const outcome = addReading(state, reading, this.limits);
    state.applied.readings = offset;
    if (outcome === 'late') return { deadLetter: `ts ${iso(reading.ts)} is more than the allowed lateness behind ${iso(newest ?? 0)}` };
    if (outcome === 'duplicate') this.metrics.recordsDropped.inc({ topic, reason: 'duplicate' });
    if (outcome !== 'score' || !this.models.current) return {};
    const words = wordsForWindow(state, reading.ts, this.config.logLookbackMs);
    return { score: { state, ts: reading.ts, readings: state.readings.slice(), words, producedAt: Number(message.timestamp) } };
  }

  private applyLog(state: MachineState, log: LogEntry, message: KafkaMessage): Applied {
    const offset = Number(message.offset);
    const topic = this.config.topics.logs;
    if (offset <= state.applied.logs) {
      this.metrics.recordsDropped.inc({ topic, reason: 'redelivered' });
      return {};
    }
    const outcome = addLog(state, log.ts, textToWordSequence(log.text), this.limits);
    state.applied.logs = offset;
    if (outcome === 'late') return { deadLetter: `log ts ${iso(log.ts)} is older than the lookback plus the allowed lateness` };
    if (outcome === 'duplicate') this.metrics.recordsDropped.inc({ topic, reason: 'duplicate' });
    return {};
  }

  private stateFor(machineId: string, partition: number): MachineState {
    this.partitionOf.set(machineId, partition);
    return this.store.touch(machineId);
  }

  /** Loads checkpoints for machines of this batch that are not in memory (after a restart, rebalance or eviction). */
  private async restoreStates(messages: readonly KafkaMessage[]): Promise<void> {
    const missing = new Set<string>();
    for (const m of messages) {
      const id = m.key?.toString();
      if (id && !this.store.has(id)) missing.add(id);
    }
    if (missing.size === 0) return;
    const restored = await this.checkpoints.load([...missing], (id, why) => this.logger.warn('unreadable checkpoint ignored', { machineId: id, why }));
    for (const [id, state] of restored) this.store.touch(id, state);
  }

  /** Scores the windows, applies the alert policy in event order, and queues alerts and scores. */
  private async scoreAndCollect(toScore: readonly Scoring[], outputs: { topic: string; messages: Message[] }[]): Promise<number[]> {
    if (toScore.length === 0) return [];
    const results = await Promise.all(toScore.map((s) => this.scoreOnce(s)));
    const alerts: Message[] = [];
    const scores: Message[] = [];
    const producedAt: number[] = [];
    toScore.forEach((s, i) => {
      const result = results[i];
      if (!result || !Number.isFinite(result.score)) return;
      const { state, ts } = s;
      const { threshold, sensors, scaler } = result.meta; // the scoring version's, even if a swap happened since
      state.lastScore = { ts, score: result.score, modelVersion: result.modelVersion };
      if (this.config.topics.scores) scores.push({ key: state.machineId, value: JSON.stringify({ machineId: state.machineId, ts: iso(ts), score: result.score, modelVersion: result.modelVersion }) });
      const clearedBefore = state.alert.lastClearedTs;
      const transition = applyScore(state.alert, result.score, ts, { ...this.config.alerts, threshold });
      if (!transition) return;
      if (transition === 'raised' && isFlap(clearedBefore, ts, this.config.alerts.flapWindowMs)) this.metrics.alertFlaps.inc();
      const alert: AlertMessage = {
        alertId: alertId(state.machineId, ts, result.modelVersion, transition),
        machineId: state.machineId,
        ts: iso(ts),
        state: transition,
        score: result.score,
        threshold,
        modelVersion: result.modelVersion,
        emittedAt: new Date().toISOString(),
        explain: explain(s, sensors, scaler),
      };
      alerts.push({ key: state.machineId, value: JSON.stringify(alert) });
      producedAt.push(s.producedAt);
      this.metrics.alerts.inc({ state: transition });
    });
    if (alerts.length) outputs.push({ topic: this.config.topics.alerts, messages: alerts });
    if (scores.length && this.config.topics.scores) outputs.push({ topic: this.config.topics.scores, messages: scores });
    return producedAt;
  }

  /** Featurises with the serving model and scores; a swap in between re-featurises with the new one. */
  private async scoreOnce(s: Scoring): Promise<ScoreResult | undefined> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const loaded = this.models.current;
      if (!loaded) return undefined;
      const features = featurize(s.readings, s.words, { ...loaded.meta, tokenizer: loaded.tokenizer });
      for (const sensor of features.imputed) this.metrics.sensorsImputed.inc({ sensor });
      try {
        return await this.batcher.score({ features, modelVersion: loaded.meta.version });
      } catch (error) {
        if (!(error instanceof StaleModelError)) throw error;
      }
    }
    throw new Error('the serving model changed ten times while scoring one window');
  }

  private deadLetter(topic: string, partition: number, message: KafkaMessage, code: string, reason: string): Message {
    this.metrics.recordsInvalid.inc({ topic, code });
    return buildDeadLetter({ topic, partition, message, code, reason });
  }

  /**
   * Dead letters go in sends of bounded size, after the batch's alerts and scores. A dead letter the broker
   * still refuses as a record (too large for a topic configured smaller) is replaced by a pointer without
   * the record's bytes: one poison record must never stop the worker, nor every next owner of its partition.
   */
  private async sendDeadLetters(messages: readonly Message[]): Promise<void> {
    const topic = this.config.topics.dlq;
    for (const chunk of chunkBySize(messages)) {
      try {
        await this.producer.sendBatch({ topicMessages: [{ topic, messages: chunk }], acks: -1 });
      } catch (error) {
        if (!isRecordRefused(error)) throw error;
        this.logger.warn('dead letters refused by the broker; sending pointers without the records', { stage: 'dead-letter', count: chunk.length, error: (error as Error).message });
        for (const pointers of chunkBySize(chunk.map(pointerDeadLetter))) await this.producer.sendBatch({ topicMessages: [{ topic, messages: pointers }], acks: -1 });
      }
    }
  }


  readiness(): { ready: boolean; reasons: string[] } {
    const reasons: string[] = [];
    if (this.state !== 'running') reasons.push(`worker is ${this.state}`);
    if (!this.inGroup) reasons.push('consumer not in its group');
    else if (Date.now() - this.lastBrokerContact > this.config.kafka.sessionTimeoutMs) reasons.push('no heartbeat or fetch answered by the broker within the session timeout');
    if (!this.models.current) reasons.push('no model loaded');
    return { ready: reasons.length === 0, reasons };
  }

  async machine(machineId: string): Promise<MachineView | undefined> {
    const state = this.store.get(machineId) ?? (await this.checkpoints.load([machineId])).get(machineId);
    if (!state) return undefined;
    const last = state.readings.at(-1);
    return {
      machineId,
      lastTs: last ? iso(last.ts) : null,
      windowFill: state.readings.length / this.config.model.window,
      score: state.lastScore?.score ?? null,
      scoredTs: state.lastScore ? iso(state.lastScore.ts) : null,
      modelVersion: state.lastScore?.modelVersion ?? null,
      alert: state.alert.state,
    };
  }

  /** `GET /machines?top=N`: the N machines in memory with the highest current score, and this worker's lag and model. */
  fleet(top: number): FleetView {
    const meta = this.models.current?.meta;
    const entries: FleetEntry[] = [];
    for (const id of this.store.ids()) {
      const state = this.store.get(id);
      const entry = state && fleetEntry(state, meta?.threshold);
      if (entry) entries.push(entry);
    }
    const lag: Record<string, number> = { readings: 0, logs: 0 };
    for (const e of this.offsets.entries()) {
      const role = e.topic === this.config.topics.readings ? 'readings' : 'logs';
      lag[role] = (lag[role] ?? 0) + e.lag;
    }
    return { modelVersion: meta?.version ?? null, threshold: meta?.threshold ?? null, lag, tracked: this.store.size, machines: rankFleet(entries, top) };
  }

  modelView(): Record<string, unknown> {
    const meta = this.models.current?.meta;
    if (!meta) return { version: null, threshold: null, backend: backendName(), ready: false };
    const { scaler: _scaler, hash, ...rest } = meta;
    return { ...rest, hash, backend: backendName() };
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
    this.state = failed ? 'failed' : 'stopped';
  }
}

function explain(s: Scoring, sensors: readonly string[], scaler: { mean: readonly number[]; std: readonly number[] }): Record<string, unknown> {
  const last = s.readings.at(-1)?.values ?? {};
  const z = sensors
    .map((sensor, i) => ({ sensor, z: ((last[sensor] ?? scaler.mean[i] ?? 0) - (scaler.mean[i] ?? 0)) / ((scaler.std[i] ?? 1) || 1) }))
    .sort((a, b) => Math.abs(b.z) - Math.abs(a.z))
    .slice(0, 3)
    .map((e) => ({ sensor: e.sensor, z: Math.round(e.z * 100) / 100 }));
  return { topSensorsZ: z, logWords: s.words.length, recentWords: s.words.slice(-12) };
}
