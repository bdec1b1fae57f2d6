import type { Admin, Consumer, EachBatchPayload, KafkaMessage } from 'kafkajs';
import type { Config } from '../config';
import { DriftWindow } from '../drift';
import type { DriftSnapshot } from '../drift';
import { decodeFailure, decodeLog, decodeReading } from '../ingest';
import type { DecodeLimits } from '../ingest';
import { createKafka } from '../kafka/client';
import type { Logger } from '../log';
import { openRedis } from '../redis/client';
import type { RedisClient } from '../redis/client';
import { ModelRegistry } from '../registry';
import { retry } from '../retry';
import { textToWordSequence } from '../tokenize';
import { Ledger, NO_VERSION } from './ledger';
import type { DecisionGate, LedgerEvent } from './ledger';
import { countEvents, publishDrift, publishFigures } from './metrics';
import type { EvaluatorMetrics } from './metrics';
import { EvaluationStore, saveDrift } from './store';
import { figures, Tally } from './tally';
import type { LiveFigures } from './tally';
import { alertSchema, shadowScoreSchema } from './view';
import type { EvaluatedAlert, EvaluatorState, EvaluatorView, ParsedShadowScore } from './view';

/**
 * `pdm evaluator`: one consumer (its own group, `<PDM_GROUP_ID>.evaluator`) over readings, logs, alerts and
 * failures. Readings move each machine's event-time clock; alerts and failures go into the ledger
 * (ledger.ts); every PDM_EVAL_INTERVAL a tick decides what is due. Per batch: apply → write the changed state
 * to Redis in one MULTI → commit the batch's offsets, so a crash re-delivers records the state already holds.
 *
 * The gate: deciding that something did *not* happen (no failure after an alert, no alert before a failure)
 * needs every alert the worker could have raised for those readings. A decision therefore waits until the
 * worker group has committed past the reading that passed the deadline (it commits only after its alerts are
 * acknowledged), and until this evaluator has read the alerts and failures topics up to their end offsets
 * fetched after that. A failure of a machine never seen is written off only once every readings partition with
 * records left to read has passed its deadline (ledger.ts). Run one evaluator: the state is not partitioned.
 */
export class Evaluator {
  state: EvaluatorState = 'starting';
  private readonly redis: RedisClient;
  private readonly consumer: Consumer;
  private readonly admin: Admin;
  private readonly registry: ModelRegistry;
  private readonly store: EvaluationStore;
  private readonly ledger: Ledger;
  private tally = new Tally();
  private readonly leads = new Map<string, number[]>();
  private readonly drift: DriftWindow;
  private readonly decodeLimits: DecodeLimits;
  /** Next offset to read per topic-partition of readings and the decision topics (what this process has applied). */
  private readonly positions = new Map<string, number>();
  private serving = NO_VERSION;
  /** The registry's shadow version (champion/challenger), evaluated from its scores; undefined when none. */
  private shadow: string | undefined;
  /** Thresholds of the shadow versions seen on the scores topic (their metadata never changes). */
  private readonly thresholds = new Map<string, number>();
  private caughtUp = false;
  private timer: NodeJS.Timeout | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private stopping: Promise<void> | undefined;
  private readonly holdoutSeen = new Set<string>();

  constructor(
    private readonly config: Config,
    private readonly logger: Logger,
    private readonly metrics: EvaluatorMetrics,
    private readonly onFailure: (error: Error) => void = () => undefined,
    /** Observes each batch once its records are applied, before its state is written (tests stop during one). */
    private readonly onApplied?: (topic: string, partition: number, records: number) => void,
  ) {
    this.redis = openRedis(config);
    this.redis.on('error', (error: Error) =>
      this.logger.warn('redis error', { stage: 'redis', error: error.message }),
    );
    const kafka = createKafka(config, logger.child({ stage: 'kafka' }), '-evaluator');
    // A short fetch wait: shutdown waits for the fetch in flight, and the evaluator is no throughput path.
    this.consumer = kafka.consumer({
      groupId: `${config.kafka.groupId}.evaluator`,
      sessionTimeout: config.kafka.sessionTimeoutMs,
      maxBytesPerPartition: 1_048_576,
      maxWaitTimeInMs: 500,
    });
    this.admin = kafka.admin();
    this.registry = new ModelRegistry(this.redis, config.redis.prefix);
    this.store = new EvaluationStore(this.redis, config.redis.prefix);
    this.ledger = new Ledger({
      horizonMs: config.horizonMs,
      graceMs: config.evaluator.graceMs,
      retentionMs: config.evaluator.retentionMs,
    });
    this.drift = new DriftWindow(config.evaluator.driftWindowMs);
    this.decodeLimits = {
      maxRecordBytes: config.maxRecordBytes,
      maxFutureSkewMs: config.maxFutureSkewMs,
      now: Date.now,
    };
  }

  /** Runs `fn` after everything queued before it: batches and ticks never interleave on the ledger. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  async start(): Promise<void> {
    const { consumer, config } = this;
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart)
        this.fail(new Error(`consumer crashed and will not restart: ${payload.error.message}`));
      else this.logger.warn('consumer crashed; kafkajs restarts it', { error: payload.error.message });
    });
    await this.restore();
    await this.refreshModel();
    await Promise.all([this.admin.connect(), consumer.connect()]);
    const t = config.topics;
    // Where this group stopped last time: a partition with nothing new sends no batch, yet is caught up.
    for (const { topic, partitions } of await this.admin.fetchOffsets({
      groupId: `${config.kafka.groupId}.evaluator`,
      topics: this.trackedTopics(),
    })) {
      for (const p of partitions)
        if (Number(p.offset) >= 0) this.positions.set(`${topic}\u0000${p.partition}`, Number(p.offset));
    }
    await consumer.subscribe({
      topics: [t.readings, t.logs, ...this.decisionTopics()],
      fromBeginning: config.startFrom === 'earliest',
    });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.serial(() => this.handleBatch(payload)),
    });
    const tick = () => {
      this.timer = setTimeout(() => {
        void this.serial(() => this.tick())
          .catch((error: unknown) =>
            this.logger.warn('evaluation tick failed (retried next tick)', {
              error: (error as Error).message,
            }),
          )
          .finally(() => {
            if (this.state === 'running') tick();
          });
      }, config.evaluator.intervalMs);
    };
    this.state = 'running';
    tick();
    this.logger.info('evaluator running', {
      group: `${config.kafka.groupId}.evaluator`,
      workerGroup: config.evaluator.workerGroup ?? null,
      serving: this.serving,
      machines: this.ledger.size,
    });
  }

  private async restore(): Promise<void> {
    const stored = await this.store.load((id, why) =>
      this.logger.warn('unreadable evaluation state ignored', { machineId: id, why }),
    );
    this.ledger.restore(stored.machines, stored.clock);
    this.tally = stored.tally;
    const m = this.metrics;
    for (const [version, c] of this.tally.versions) {
      m.falseAlarms.inc({ version }, c.falseAlarms);
      m.trueAlarms.inc({ version }, c.trueAlarms);
      m.failures.inc({ version, outcome: 'detected' }, c.detected);
      m.failures.inc({ version, outcome: 'missed' }, c.missed);
    }
    for (const [key, n] of this.tally.ignored) {
      const [topic = '', reason = ''] = key.split('|');
      m.ignored.inc({ topic, reason }, n);
    }
    for (const [version, leads] of stored.leads) {
      this.leads.set(version, leads);
      for (const s of leads) m.leadTime.observe({ version }, s);
    }
    this.publish();
  }

  /** The topics whose records are decisions' inputs (and are read to their end before deciding). */
  private decisionTopics(): string[] {
    const t = this.config.topics;
    return [t.alerts, t.failures, ...(t.scores ? [t.scores] : [])];
  }

  /** The topics whose read positions the gate compares with their end offsets. */
  private trackedTopics(): string[] {
    return [this.config.topics.readings, ...this.decisionTopics()];
  }

  /** Where this process reads `topic`'s partition next: its applied position, or the log start if that is later. */
  private position(topic: string, p: { partition: number; low: string }): number {
    return Math.max(this.positions.get(`${topic}\u0000${p.partition}`) ?? 0, Number(p.low));
  }

  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const t = this.config.topics;
    const events: LedgerEvent[] = [];
    let last: string | undefined;
    let applied = 0;
    const shadowScores = batch.topic === t.scores ? await this.shadowScores(batch.messages) : undefined;
    for (const [i, message] of batch.messages.entries()) {
      if (!payload.isRunning() || payload.isStale()) break;
      if (batch.topic === t.readings) this.onReading(message, batch.partition, events);
      else if (batch.topic === t.logs) this.onLog(message);
      else if (batch.topic === t.alerts) this.onAlert(message, events);
      else if (batch.topic === t.failures) this.onFailureRecord(message, events);
      else if (shadowScores) this.onShadowScore(shadowScores[i], events);
      last = message.offset;
      applied++;
    }
    if (last === undefined) return;
    this.onApplied?.(batch.topic, batch.partition, applied);
    try {
      await this.persist(events, () => payload.isRunning() && !payload.isStale());
    } catch (error) {
      // The records are applied in memory but not stored, and their offsets stay uncommitted: carrying on would
      // see them again as duplicates. Exit instead; a restart resumes from Redis and the committed offsets.
      if (this.state === 'running')
        this.fail(new Error(`evaluation state not written: ${(error as Error).message}`));
      throw error;
    }
    if (this.trackedTopics().includes(batch.topic))
      this.positions.set(`${batch.topic}\u0000${batch.partition}`, Number(last) + 1);
    for (const message of batch.messages) {
      payload.resolveOffset(message.offset);
      if (message.offset === last) break;
    }
    // consumer.commitOffsets is a silent no-op once kafkajs stops running, and a graceful stop sets that before
    // it waits for the batch in flight: a batch whose state is written would be read again after a restart
    // (and its records counted as duplicates). Its commit goes to the group directly while still a member.
    const committed = { partition: batch.partition, offset: String(Number(last) + 1) };
    await (payload.isRunning()
      ? this.consumer.commitOffsets([{ topic: batch.topic, ...committed }])
      : payload.commitOffsetsIfNecessary({ topics: [{ topic: batch.topic, partitions: [committed] }] }));
    await payload.heartbeat();
  }

  private onReading(message: KafkaMessage, partition: number, events: LedgerEvent[]): void {
    const decoded = decodeReading(message.value, undefined, this.decodeLimits);
    if (!decoded.ok) return; // the worker dead-letters it; it moves no clock here
    const r = decoded.value;
    events.push(
      ...this.ledger.reading(r.machineId, r.ts, { partition, offset: Number(message.offset) }, [
        this.serving,
        ...(this.shadow ? [this.shadow] : []),
      ]),
    );
    this.drift.reading(r.ts, r.values);
  }

  private onLog(message: KafkaMessage): void {
    const decoded = decodeLog(message.value, undefined, this.decodeLimits);
    if (decoded.ok) this.drift.words(decoded.value.ts, textToWordSequence(decoded.value.text));
  }

  private onAlert(message: KafkaMessage, events: LedgerEvent[]): void {
    let parsed: EvaluatedAlert;
    try {
      parsed = alertSchema.parse(JSON.parse(message.value?.toString('utf8') ?? ''));
    } catch {
      events.push({ kind: 'ignored', topic: 'alerts', reason: 'invalid' });
      return;
    }
    if (parsed.state !== 'raised') return; // a clear ends an alert; the evaluation counts raises
    const ts = typeof parsed.ts === 'number' ? parsed.ts : Date.parse(parsed.ts);
    events.push(
      ...this.ledger.alert({
        alertId: parsed.alertId,
        machineId: parsed.machineId,
        ts,
        modelVersion: parsed.modelVersion,
      }),
    );
  }

  /**
   * The shadow's records of a scores batch, parsed, with their versions' thresholds fetched (once per
   * version); undefined entries for the champion's records and unreadable ones. A record without
   * `"role":"shadow"` in its text is not parsed: the champion's scores are most of the topic.
   */
  private async shadowScores(messages: readonly KafkaMessage[]): Promise<ParsedShadowScore[]> {
    const parsed = messages.map((message) => {
      const text = message.value?.toString('utf8') ?? '';
      if (!text.includes('"role":"shadow"')) return undefined;
      try {
        return shadowScoreSchema.parse(JSON.parse(text));
      } catch {
        return 'invalid' as const;
      }
    });
    for (const p of parsed)
      if (p && p !== 'invalid' && !this.thresholds.has(p.modelVersion)) {
        const meta = await this.registry.meta(p.modelVersion).catch(() => undefined);
        if (meta) this.thresholds.set(p.modelVersion, meta.threshold);
      }
    return parsed;
  }

  /** Applies the worker's alert policy to a shadow score (its would-be alerts enter the ledger). */
  private onShadowScore(score: ParsedShadowScore, events: LedgerEvent[]): void {
    if (score === undefined) return;
    const threshold = score === 'invalid' ? undefined : this.thresholds.get(score.modelVersion);
    if (score === 'invalid' || threshold === undefined) {
      events.push({ kind: 'ignored', topic: 'scores', reason: 'invalid' });
      return;
    }
    const ts = typeof score.ts === 'number' ? score.ts : Date.parse(score.ts);
    const policy = { ...this.config.alerts, threshold };
    events.push(...this.ledger.shadowScore(score.machineId, score.modelVersion, ts, score.score, policy));
  }

  private onFailureRecord(message: KafkaMessage, events: LedgerEvent[]): void {
    const decoded = decodeFailure(message.value, undefined, this.decodeLimits);
    if (!decoded.ok) events.push({ kind: 'ignored', topic: 'failures', reason: 'invalid' });
    else events.push(...this.ledger.failure(decoded.value.machineId, decoded.value.ts));
  }

  /** Applies the events to the tally and writes everything changed (retried while Redis is away), then the metrics. */
  /** Returns the drift figures it published (computed once per round, for the metrics and for Redis). */
  private async persist(
    events: readonly LedgerEvent[],
    keepGoing: () => boolean = () => this.state === 'running',
  ): Promise<DriftSnapshot | undefined> {
    this.tally.apply(events);
    const newLeads = this.tally.takeNewLeads();
    const { changed, evicted } = this.ledger.takeChanges();
    await retry(() => this.store.save(changed, evicted, this.tally, newLeads, this.ledger.clock), {
      keepGoing,
      onRetry: (error, attempt) =>
        this.logger.warn('evaluation state write failed; retrying', { attempt, error: error.message }),
    });
    for (const [version, leads] of newLeads)
      this.leads.set(version, [...(this.leads.get(version) ?? []), ...leads]);
    countEvents(this.metrics, events);
    return this.publish();
  }

  /** Decides what the gate lets through, refreshes the serving model and the drift figures. */
  private async tick(): Promise<void> {
    await this.refreshModel();
    const gate = await this.gate();
    const events = gate ? this.ledger.decide(gate, this.serving, this.shadow) : [];
    const drift = await this.persist(events);
    // For the trainer's drift trigger (PDM_RETRAIN_DRIFT_PSI). Not part of the decisions: a failed write
    // only delays that trigger to the next tick.
    if (drift)
      await saveDrift(this.redis, this.config.redis.prefix, drift).catch((error: unknown) =>
        this.logger.warn('drift figures not written', { error: (error as Error).message }),
      );
  }

  /**
   * The worker group's committed offsets on the readings topic, then the end offsets of alerts and failures:
   * undefined (decide nothing now) unless this evaluator has read both topics up to those ends. Then the
   * readings partitions it has not read to their end (for machines not seen yet).
   */
  private async gate(): Promise<DecisionGate | undefined> {
    const t = this.config.topics;
    const group = this.config.evaluator.workerGroup;
    const committed = new Map<number, number>();
    if (group) {
      const [offsets] = await this.admin.fetchOffsets({ groupId: group, topics: [t.readings] });
      for (const p of offsets?.partitions ?? []) committed.set(p.partition, Number(p.offset));
    }
    let caughtUp = true;
    // The scores topic gates only while a shadow is evaluated: its would-be alerts are derived from it.
    for (const topic of [t.alerts, t.failures, ...(this.shadow && t.scores ? [t.scores] : [])]) {
      for (const p of await this.admin.fetchTopicOffsets(topic))
        if (this.position(topic, p) < Number(p.high)) caughtUp = false;
    }
    this.caughtUp = caughtUp;
    if (!caughtUp) return undefined;
    const unreadPartitions = (await this.admin.fetchTopicOffsets(t.readings))
      .filter((p) => this.position(t.readings, p) < Number(p.high))
      .map((p) => p.partition);
    return {
      // Without a worker group to wait for (PDM_EVAL_WORKER_GROUP=none), the alerts are taken as complete.
      processed: group ? (due) => (committed.get(due.partition) ?? -1) > due.offset : () => true,
      unreadPartitions,
    };
  }

  private async refreshModel(): Promise<void> {
    this.serving = (await this.registry.currentVersion()) ?? NO_VERSION;
    // Without a scores topic no shadow score can arrive: evaluating one would charge it misses it never had.
    const shadow = this.config.topics.scores ? await this.registry.shadowVersion() : undefined;
    this.shadow = shadow === this.serving ? undefined : shadow;
    const evaluated = [this.serving, ...(this.shadow ? [this.shadow] : [])];
    for (const version of new Set([...evaluated, ...this.tally.versions.keys()])) {
      if (version === NO_VERSION || this.holdoutSeen.has(version)) continue;
      const meta = await this.registry.meta(version).catch(() => undefined);
      this.holdoutSeen.add(version);
      // Failure-level recall on the holdout (a failure with a window at or above the threshold within the horizon
      // before it) is what live recall measures; the window-level recall stands in for models without it.
      const m = meta?.metrics;
      const holdout = m?.holdout_failures
        ? (m.failures_detected ?? 0) / m.holdout_failures
        : (meta?.operatingPoint?.holdout.recall ?? m?.recall);
      if (holdout !== undefined) this.metrics.holdoutRecall.set({ version }, holdout);
    }
    if (this.serving === NO_VERSION || this.drift.reference?.version === this.serving) return;
    const meta = await this.registry.meta(this.serving);
    const tokenizer = meta ? await this.registry.tokenizer(meta) : undefined;
    if (!meta || !tokenizer) return;
    this.drift.setReference({
      version: meta.version,
      sensors: meta.sensors,
      mean: meta.scaler.mean,
      std: meta.scaler.std,
      knows: (word) => {
        const id = tokenizer.wordIndex.get(word);
        return id !== undefined && id < tokenizer.numWords && word !== tokenizer.oovToken;
      },
    });
  }

  private publish(): DriftSnapshot | undefined {
    publishFigures(this.metrics, this.figures());
    const pending = this.ledger.pending();
    this.metrics.pending.set({ kind: 'alerts' }, pending.alerts);
    this.metrics.pending.set({ kind: 'failures' }, pending.failures);
    const drift = this.drift.snapshot();
    publishDrift(this.metrics, drift);
    return drift;
  }

  figures(): LiveFigures[] {
    return [...this.tally.versions].map(([v, c]) => figures(v, c, this.leads.get(v) ?? []));
  }

  view(): EvaluatorView {
    const clock = this.ledger.clock;
    return {
      role: 'evaluator',
      serving: this.serving,
      shadow: this.shadow ?? null,
      clock: Number.isFinite(clock) ? new Date(clock).toISOString() : null,
      versions: this.figures(),
      ignored: Object.fromEntries(this.tally.ignored),
      pending: this.ledger.pending(),
      drift: this.drift.snapshot() ?? null,
      gate: { workerGroup: this.config.evaluator.workerGroup ?? null, caughtUp: this.caughtUp },
    };
  }

  private fail(error: Error): void {
    this.logger.error('evaluator failed', { error: error.message });
    this.state = 'failed';
    this.onFailure(error);
  }

  /** Safe to call twice (the same promise): stops the tick, leaves the group, closes Redis. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    const failed = this.state === 'failed';
    this.state = 'draining';
    clearTimeout(this.timer);
    const step = async (what: string, fn: () => unknown) => {
      try {
        await fn();
      } catch (error) {
        this.logger.warn(`shutdown: ${what} failed`, { error: (error as Error).message });
      }
    };
    await step('consumer disconnect', () => this.consumer.disconnect());
    await step('pending work', () => this.queue);
    await step('admin disconnect', () => this.admin.disconnect());
    await step('redis quit', () => this.redis.quit());
    this.state = failed ? 'failed' : 'stopped';
  }
}
