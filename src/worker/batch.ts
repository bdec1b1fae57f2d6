import type { KafkaMessage, Message } from 'kafkajs';
import { applyScore, isFlap } from '../alerts';
import type { Config } from '../config';
import { StaleCheckpointError } from '../errors';
import type { DeadLetterCode } from '../errors';
import type { Decoded, LogEntry, Reading } from '../ingest';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import { retry } from '../retry';
import { covered, decisionReuses, JournalMemory } from '../state';
import type { Decision, MachineState, MachineStore, WindowLimits } from '../state';
import { Slicer, SLICE_BUDGET_MS } from '../loop';
import { applyLog, applyReading } from './apply';
import type { ApplyContext, RecordPosition } from './apply';
import { buildDeadLetter, chunkBySize, sendDeadLetters } from './dead-letter';
import { alertRecord, scoreRecord } from './messages';
import type {
  BatchConsumer,
  BatchInput,
  CheckpointPort,
  Clock,
  ModelSource,
  OutputProducer,
  OutputRecords,
  Scoring,
  ShadowPort,
  WindowScore,
} from './ports';

/** Windows featurised and submitted per event-loop turn; a heartbeat goes between slices. */
const SCORE_SLICE = 256;
/**
 * Alerts and scores go out in sends of bounded size, one after the other (each acknowledged before the next,
 * so a machine's outputs keep their order). Bytes: a partition's record batch must stay under the broker's
 * default `message.max.bytes` (1 MB) whatever the batch raised. Records: kafkajs 2.2 groups a send's
 * records by partition by copying the partition's array for every record (quadratic: a 10,000-alert send
 * spent most of its time there).
 */
const OUTPUT_SEND_BYTES = 512 * 1024;
const OUTPUT_SEND_RECORDS = 1_000;
/** What a journaled decision explains with when no model serves any more: no sensor z-scores. */
const NO_META: WindowScore['meta'] = { threshold: 0, sensors: [], scaler: { mean: [], std: [] } };

/** The i-th send carries the i-th bounded chunk of each topic (distinct topics: kafkajs keys a send's topics by name). */
function boundedSends(records: readonly OutputRecords[]): OutputRecords[][] {
  const chunked = records.map(({ topic, messages }) => ({
    topic,
    chunks: chunkBySize(messages, OUTPUT_SEND_BYTES, OUTPUT_SEND_RECORDS),
  }));
  const sends: OutputRecords[][] = [];
  for (const { topic, chunks } of chunked)
    chunks.forEach((messages, i) => (sends[i] ??= []).push({ topic, messages }));
  return sends;
}

export type DecodedRecord = Decoded<Reading | LogEntry>;

export interface BatchPorts {
  readonly producer: OutputProducer;
  readonly checkpoints: CheckpointPort;
  readonly model: ModelSource;
  readonly clock: Clock;
  /** The challenger (src/shadow), when the worker runs one: its scores go to the scores topic only. */
  readonly shadow?: ShadowPort;
}

export interface BatchSettings {
  readonly topics: Pick<Config['topics'], 'readings' | 'logs' | 'alerts' | 'scores' | 'dlq'>;
  readonly limits: WindowLimits;
  readonly alerts: Config['alerts'];
}

/** The batch step's settings from the configuration. */
export function batchSettings(config: Config): BatchSettings {
  return {
    topics: config.topics,
    limits: {
      window: config.model.window,
      allowedLatenessMs: config.allowedLatenessMs,
      logLookbackMs: config.logLookbackMs,
      maxLogTokens: config.maxLogTokens,
      maxLogBytes: config.maxLogBytes,
    },
    alerts: config.alerts,
  };
}

/** The worker's memory that a batch changes: machine states, and which partition each machine came from. */
export interface BatchMemory {
  readonly store: MachineStore;
  readonly partitionOf: Map<string, number>;
  /** Told, once per batch, of its last offset and largest event time (lag and the event-time join gate). */
  readonly processed: (topic: string, partition: number, offset: number, eventTs: number | undefined) => void;
}

/**
 * What a batch did. `revoked`: the partition moved during the batch, so nothing was committed. `paused`: a
 * model was promoted but none can serve, so nothing was applied or committed and fetching stopped.
 */
export interface BatchOutcome {
  readonly status: 'skipped' | 'paused' | 'revoked' | 'committed';
  /** Records acknowledged by the broker (alerts, scores, dead letters). */
  readonly sent: number;
  readonly checkpointed: readonly string[];
  /** The committed offset (the next one to read), when the batch committed. */
  readonly committed?: string;
}

interface Collected {
  readonly touched: Map<string, MachineState>;
  readonly deadLetters: Message[];
  readonly toScore: Scoring[];
  /** The triggering reading of each window of `toScore` (the decision journal's key). */
  readonly positions: RecordPosition[];
  lastOffset: string | undefined;
}

/**
 * The transaction of one batch, the code that decides what is acked, checkpointed and committed:
 * decode results → apply to state → score → publish alerts, scores and dead letters and wait for their
 * acks → checkpoint the touched machines → commit the batch's offsets. That order makes the pipeline
 * at-least-once end to end: a crash anywhere re-delivers records whose outputs may be re-published with
 * the same deterministic alertId, never records whose outputs are lost; a record already in a checkpoint
 * (`applied`) is not applied, scored or alerted again.
 *
 * A batch either completes or leaves no trace in memory: on any failure, or when its partition is revoked
 * before the checkpoint, the machines it touched are dropped, so the next delivery reloads them from their
 * last checkpoint, which matches the last committed offsets, and re-applies every record.
 */
export class BatchStep {
  /** Journaled decisions of restored machines, for their redelivered readings (src/state/journal.ts). */
  private readonly journal = new JournalMemory();
  private readonly countReuse: () => void;

  constructor(
    private readonly settings: BatchSettings,
    private readonly memory: BatchMemory,
    private readonly ports: BatchPorts,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    /** Observes every applied record (tests use it to see which worker handled which machine). */
    private readonly onApplied?: (topic: string, machineId: string, partition: number) => void,
  ) {
    this.countReuse = decisionReuses(metrics.registry);
  }

  async run(input: BatchInput<DecodedRecord>, consumer: BatchConsumer): Promise<BatchOutcome> {
    if (input.messages.length === 0 || !consumer.isRunning() || consumer.isStale())
      return { status: 'skipped', sent: 0, checkpointed: [] };
    // Once a model was promoted, a record applied without one would be committed unscored: its alerts would
    // never exist, not even after a redelivery. Wait for a usable model instead (before the first model
    // ever, records are applied unscored: there is nothing to wait for).
    if (this.ports.model.unusable() !== undefined) {
      consumer.pause();
      return { status: 'paused', sent: 0, checkpointed: [] };
    }
    const touched = new Map<string, MachineState>();
    try {
      const outcome = await this.transact(input, consumer, touched);
      if (outcome.status === 'revoked') this.forget(touched);
      return outcome;
    } catch (error) {
      this.forget(touched);
      this.logger.warn('batch failed; its machines will be reloaded from their checkpoints on retry', {
        topic: input.topic,
        partition: input.partition,
        machines: touched.size,
        error: (error as Error).message,
      });
      throw error;
    }
  }

  private forget(touched: ReadonlyMap<string, MachineState>): void {
    this.memory.store.drop((id) => touched.has(id));
    for (const id of touched.keys()) this.memory.partitionOf.delete(id);
    this.journal.forget((id) => !touched.has(id)); // read again with their checkpoints
  }

  private async transact(
    input: BatchInput<DecodedRecord>,
    consumer: BatchConsumer,
    touched: Map<string, MachineState>,
  ): Promise<BatchOutcome> {
    const { producer, checkpoints, clock } = this.ports;
    await this.restoreStates(input);
    const collected = await this.applyAll(input, touched, consumer);
    // 1. decisions, journaled before any output leaves (a redelivery takes them instead of scoring again);
    // then the outputs, acknowledged: alerts and scores first, then the dead letters in bounded sends.
    const fresh: Decision[] = [];
    const { records, alertsProducedAt } = await this.scoreAndCollect(collected.toScore, consumer, (s, i) =>
      this.decide(s, collected.positions[i], fresh),
    );
    if (fresh.length) await this.persist('journal', () => checkpoints.record(fresh), consumer);
    // A partition that moved while this batch scored (or waited on Redis) has a new owner deciding these
    // readings itself: sending ours too could publish two decisions for one reading. After a long stall the
    // heartbeat is due, and its answer is how this member learns of the rebalance.
    await consumer.heartbeat();
    if (consumer.isStale()) return { status: 'revoked', sent: 0, checkpointed: [] };
    for (const send of boundedSends(records)) await producer.send(send);
    if (collected.deadLetters.length)
      await sendDeadLetters(producer, this.settings.topics.dlq, collected.deadLetters, this.logger);
    const sent = records.reduce((n, r) => n + r.messages.length, 0) + collected.deadLetters.length;
    const ackedAt = clock.now();
    for (const producedAt of alertsProducedAt)
      this.metrics.eventToAlert.observe(Math.max(0, (ackedAt - producedAt) / 1000));
    // A revoked partition has a new owner that re-reads from the last commit: writing our checkpoint now
    // could overwrite one that owner already wrote.
    if (consumer.isStale()) return { status: 'revoked', sent, checkpointed: [] };
    // 2. checkpoint. Redis may be briefly away: retry (heartbeating) while the partition is still ours,
    // rather than failing the batch and making kafkajs restart the consumer.
    const states = [...touched.values()]; // the objects this batch changed, whatever the store holds now
    try {
      await this.persist('checkpoint', () => checkpoints.save(states), consumer);
    } catch (error) {
      if (!(error instanceof StaleCheckpointError)) throw error;
      // A newer owner checkpointed further (we stalled past the session timeout): this batch is not ours.
      return { status: 'revoked', sent, checkpointed: [] };
    }
    this.memory.store.clean(touched.keys());
    for (const state of states) this.journal.settle(state);
    const checkpointed = [...touched.keys()];
    // 3. commit, unless the partition moved meanwhile: its new owner re-reads from the last commit, and
    // the records it re-delivers are at or below the checkpoint's applied offsets.
    if (collected.lastOffset === undefined || consumer.isStale())
      return { status: 'revoked', sent, checkpointed };
    consumer.resolveOffset(collected.lastOffset); // kafkajs keeps the position after the last resolved offset
    const committed = String(Number(collected.lastOffset) + 1);
    await consumer.commit(committed);
    await consumer.heartbeat();
    this.metrics.machinesTracked.set(this.memory.store.size);
    return { status: 'committed', sent, checkpointed, committed };
  }

  /**
   * Applies every record to its machine's state, collecting dead letters and windows to score, in slices
   * that let the event loop run (and the consumer heartbeat) between them: a fetched batch holds ten
   * thousand records, and several partitions' batches resume in the same turn. Yielding is safe here: the
   * batches of one partition number run one at a time (worker.ts), so nothing else applies to these
   * machines meanwhile, and dirty machines are never evicted.
   */
  private async applyAll(
    input: BatchInput<DecodedRecord>,
    touched: Map<string, MachineState>,
    consumer: BatchConsumer,
  ): Promise<Collected> {
    const { topic, partition } = input;
    const { store, partitionOf } = this.memory;
    const ctx: ApplyContext = {
      topic,
      limits: this.settings.limits,
      metrics: this.metrics,
      hasModel: () => this.ports.model.hasModel(),
    };
    const collected: Collected = {
      touched,
      deadLetters: [],
      toScore: [],
      positions: [],
      lastOffset: undefined,
    };
    let maxEventTs = -Infinity;
    const place = { topic, partition, incarnation: input.incarnation ?? '' };
    const slicer = new Slicer(SLICE_BUDGET_MS, () => consumer.heartbeat());
    for (let i = 0; i < input.messages.length; i++) {
      if (slicer.due()) await slicer.yield();
      const message = input.messages[i]!;
      const d = input.decoded[i];
      if (!d)
        throw new RangeError(
          `a batch of ${input.messages.length} records with ${input.decoded.length} decoded`,
        );
      if (!d.ok) collected.deadLetters.push(this.deadLetter(topic, partition, message, d.code, d.message));
      else {
        if (d.value.ts > maxEventTs) maxEventTs = d.value.ts;
        // A machine's bookkeeping once per batch, at its first record: per record it was a measurable share
        // of ingest.
        let state = touched.get(d.value.machineId);
        if (state === undefined) {
          partitionOf.set(d.value.machineId, partition);
          state = store.touch(d.value.machineId);
          // Before applying: a failure after this point must undo it, and the idle sweep must not evict the
          // machine until its checkpoint is written (dirty machines are never evicted).
          touched.set(state.machineId, state);
          store.markDirty(state.machineId);
        }
        const at = { place, offset: Number(message.offset), producedAt: Number(message.timestamp) };
        const result =
          'values' in d.value ? applyReading(state, d.value, at, ctx) : applyLog(state, d.value, at, ctx);
        this.onApplied?.(topic, state.machineId, partition);
        if (result.late)
          collected.deadLetters.push(this.deadLetter(topic, partition, message, 'late', result.late));
        if (result.score) {
          collected.toScore.push(result.score);
          collected.positions.push(at);
        }
      }
      collected.lastOffset = message.offset;
    }
    // Once per batch, not per record (the same outcome: both keep maxima): at tens of thousands of
    // records a second, per-record label lookups and map updates are a measurable share of the batch.
    this.metrics.recordsConsumed.inc({ topic }, input.messages.length);
    if (collected.lastOffset !== undefined)
      this.memory.processed(
        topic,
        partition,
        Number(collected.lastOffset),
        Number.isFinite(maxEventTs) ? maxEventTs : undefined,
      );
    return collected;
  }

  /** Loads checkpoints for machines of this batch that are not in memory (after a restart, rebalance or eviction). */
  private async restoreStates(input: BatchInput<DecodedRecord>): Promise<void> {
    const missing = new Set<string>();
    const { store, partitionOf } = this.memory;
    // The machines are the decoded records' ids: a valid record's key is its machineId (the decoder refuses
    // any other), so this needs no second conversion of every key to a string. An invalid record is only
    // dead-lettered, so its machine needs neither a restore nor a pin.
    for (const d of input.decoded) {
      if (!d.ok) continue;
      const id = d.value.machineId;
      if (!store.has(id)) missing.add(id);
      else {
        store.pin(id); // the bound on insert must not evict it before it is applied
        // Known as this partition's from now on (set again when applied): a reassignment while the batch
        // runs (applying yields) keeps the machines of the partitions still owned, before the batch
        // reaches them. Only machines in memory: a key whose records are all invalid never enters it.
        partitionOf.set(id, input.partition);
      }
    }
    this.journal.forget((id) => store.has(id)); // evicted, or their partition moved
    if (missing.size === 0) return;
    const ids = [...missing];
    const { checkpoints } = this.ports;
    // The journal first, then the checkpoint: a checkpoint removes only the entries it covers, so whatever
    // checkpoint is read afterwards covers every entry it removed meanwhile. The other order could read an
    // old checkpoint, then an empty journal cleared by a newer checkpoint, and score those readings afresh.
    const journaled = await checkpoints.journaled(ids);
    const restored = await checkpoints.load(ids, (id, why) =>
      this.logger.warn('unreadable checkpoint ignored', { machineId: id, why }),
    );
    for (const [id, state] of restored) {
      store.touch(id, state);
      partitionOf.set(id, input.partition);
    }
    for (const id of ids)
      this.journal.hold(
        id,
        (journaled.get(id) ?? []).filter((d) => !covered(d, restored.get(id))),
      );
  }

  /**
   * The decision on one window. A reading that comes again after its outputs were sent (a crash before its
   * checkpoint) takes its journaled decision: the score, version and threshold already published, so the
   * same transition under the same alertId, whichever version serves now and whatever logs arrived since.
   * It is still scored, for what its alert explains (the serving version's sensors and scaler); a version
   * that no longer serves still gives its recorded decision. A new decision joins `fresh`, to be journaled.
   */
  private async decide(
    s: Scoring,
    at: RecordPosition | undefined,
    fresh: Decision[],
  ): Promise<WindowScore | undefined> {
    const recorded = at && this.journal.find(s.state.machineId, at.place, at.offset, s.ts);
    const result = await this.ports.model.score(s);
    if (recorded) {
      this.countReuse();
      const { score, modelVersion, threshold } = recorded;
      return { score, modelVersion, meta: { ...(result?.meta ?? NO_META), threshold } };
    }
    if (at && result && Number.isFinite(result.score)) {
      const { score, modelVersion, meta } = result;
      const { place, offset } = at;
      fresh.push({
        machineId: s.state.machineId,
        place,
        offset,
        ts: s.ts,
        modelVersion,
        score,
        threshold: meta.threshold,
      });
    }
    return result;
  }

  /**
   * A Redis write of the batch (journal, checkpoint), retried while Redis is briefly away and the partition
   * is still ours (heartbeating), rather than failing the batch and making kafkajs restart the consumer.
   */
  private persist(
    what: 'journal' | 'checkpoint',
    write: () => Promise<void>,
    consumer: BatchConsumer,
  ): Promise<void> {
    return retry(write, {
      maxDelayMs: 2_000,
      keepGoing: () => consumer.isRunning() && !consumer.isStale(),
      onRetry: async (error, attempt) => {
        if (attempt === 1 || attempt % 10 === 0)
          this.logger.warn(`${what} write failed; retrying`, { stage: what, attempt, error: error.message });
        await consumer.heartbeat().catch(() => undefined);
      },
    });
  }

  /**
   * Scores the windows, applies the alert policy in event order, explains the raised alerts (batched), and
   * builds the alert and score records. Windows are submitted in bounded slices with a heartbeat between
   * them, so that a large batch never holds the event loop (or the group session) for its whole length.
   */
  private async scoreAndCollect(
    toScore: readonly Scoring[],
    consumer: BatchConsumer,
    decide: (s: Scoring, i: number) => Promise<WindowScore | undefined>,
  ): Promise<{ records: OutputRecords[]; alertsProducedAt: number[] }> {
    if (toScore.length === 0) return { records: [], alertsProducedAt: [] };
    const { topics, alerts: policy } = this.settings;
    const { model, clock } = this.ports;
    const results: (WindowScore | undefined)[] = [];
    for (let start = 0; start < toScore.length; start += SCORE_SLICE) {
      if (start > 0) await consumer.heartbeat(); // kafkajs sends one only when its interval is due
      const slice = toScore.slice(start, start + SCORE_SLICE);
      results.push(...(await Promise.all(slice.map((s, j) => decide(s, start + j)))));
    }
    // Champion/challenger: after the champion, for the scores topic only; never throws (src/shadow).
    const shadowed = await this.ports.shadow?.score(toScore, () => consumer.heartbeat());
    const scores: Message[] = [];
    const transitions: {
      s: Scoring;
      result: WindowScore;
      transition: NonNullable<ReturnType<typeof applyScore>>;
    }[] = [];
    toScore.forEach((s, i) => {
      const result = results[i];
      if (!result || !Number.isFinite(result.score)) return;
      const { state, ts } = s;
      state.lastScore = { ts, score: result.score, modelVersion: result.modelVersion };
      if (topics.scores) scores.push(scoreRecord(s, result, shadowed && 'champion'));
      const clearedBefore = state.alert.lastClearedTs;
      const transition = applyScore(state.alert, result.score, ts, {
        ...policy,
        threshold: result.meta.threshold,
      });
      if (!transition) return;
      if (transition === 'raised' && isFlap(clearedBefore, ts, policy.flapWindowMs))
        this.metrics.alertFlaps.inc();
      this.metrics.alerts.inc({ state: transition });
      transitions.push({ s, result, transition });
    });
    const raised = transitions.filter((t) => t.transition === 'raised');
    const explained =
      raised.length && model.explain
        ? await model.explain(
            raised.map((t) => ({ window: t.s, modelVersion: t.result.modelVersion, score: t.result.score })),
          )
        : [];
    const attribution = new Map(raised.map((t, i) => [t, explained[i]]));
    const now = clock.now();
    const alerts = transitions.map((t) => alertRecord(t.s, t.result, t.transition, now, attribution.get(t)));
    const records: OutputRecords[] = [];
    if (alerts.length) records.push({ topic: topics.alerts, messages: alerts });
    if (shadowed) scores.push(...shadowed);
    if (scores.length && topics.scores) records.push({ topic: topics.scores, messages: scores });
    return { records, alertsProducedAt: transitions.map((t) => t.s.producedAt) };
  }

  private deadLetter(
    topic: string,
    partition: number,
    message: Pick<KafkaMessage, 'key' | 'value' | 'offset'>,
    code: DeadLetterCode,
    reason: string,
  ): Message {
    this.metrics.recordsInvalid.inc({ topic, code });
    return buildDeadLetter({ topic, partition, message, code, reason }, new Date(this.ports.clock.now()));
  }
}
