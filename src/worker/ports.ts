import type { KafkaMessage, Message } from 'kafkajs';
import type { Explanation } from '../explain';
import type { ModelMeta } from '../registry';
import type { WindowContext } from '../features';
import type { Decision, MachineState, TimedValues } from '../state';

/**
 * The collaborators of the batch step (`runBatch`), as narrow typed ports. The worker adapts kafkajs, the
 * producer, Redis and the serving model to them; unit tests pass in-memory ones and crash them at will.
 */

/** The consumer, as one batch sees it (kafkajs's `eachBatch` payload plus the consumer's commit). */
export interface BatchConsumer {
  /** False once the consumer is stopping: the batch must not start. */
  isRunning(): boolean;
  /** True once the batch's partition was revoked or seeked: its outcome must not be checkpointed or committed. */
  isStale(): boolean;
  heartbeat(): Promise<void>;
  resolveOffset(offset: string): void;
  /** Stops fetching until the model is usable again; the batch's unresolved records are fetched again then. */
  pause(): void;
  /** Commits `offset` (the next offset to read) for the batch's topic and partition. */
  commit(offset: string): Promise<void>;
}

export interface OutputRecords {
  readonly topic: string;
  readonly messages: Message[];
}

/** The producer: resolves once every record is acknowledged by all in-sync replicas. */
export interface OutputProducer {
  send(records: readonly OutputRecords[]): Promise<void>;
}

/** Durable per-machine state (Redis in production). */
export interface CheckpointPort {
  load(
    machineIds: readonly string[],
    onCorrupt?: (machineId: string, why: string) => void,
  ): Promise<Map<string, MachineState>>;
  save(states: readonly MachineState[]): Promise<void>;
  /** Journals decisions before their outputs are sent; `save` removes those its checkpoint covers. */
  record(decisions: readonly Decision[]): Promise<void>;
  /** The journaled decisions of these machines (absent: none). */
  journaled(machineIds: readonly string[]): Promise<Map<string, Decision[]>>;
}

/** A window handed to the scorer: a snapshot, so that a model swap can re-featurise the same inputs. */
export interface Scoring {
  readonly state: MachineState;
  readonly ts: number;
  readonly readings: readonly TimedValues[];
  readonly words: readonly string[];
  /** What the optional extra feature channels need (the machine's first reading, its newest log). */
  readonly context?: WindowContext;
  /** The Kafka timestamp of the triggering reading (when it was produced). */
  readonly producedAt: number;
}

export interface WindowScore {
  readonly score: number;
  readonly modelVersion: string;
  /** The scoring version's metadata: its threshold decides the alert, even after a swap. */
  readonly meta: Pick<ModelMeta, 'threshold' | 'sensors' | 'scaler'>;
}

/** The serving model. */
export interface ModelSource {
  /** Whether a model is loaded; without one (and none ever promoted), records update state unscored. */
  hasModel(): boolean;
  /** Why no model can serve although one was promoted: then no record may be applied or committed. */
  unusable(): string | undefined;
  /** Scores one window; undefined when no model is loaded any more. */
  score(window: Scoring): Promise<WindowScore | undefined>;
  /**
   * Attributes raised alerts' scores to their inputs with the version that scored them (bounded occlusion,
   * see src/explain), all in a few batched passes that yield to the event loop between them; one entry per
   * window, undefined when disabled or when its version no longer serves (a swap in between).
   */
  explain?(windows: readonly ExplainRequest[]): Promise<(Explanation | undefined)[]>;
}

/** The challenger (src/shadow): scores the champion's windows for the scores topic only, never for alerts. */
export interface ShadowPort {
  /**
   * The shadow's score records (`role: "shadow"`) for these windows; undefined when no shadow is on (the
   * champion's records then carry no role). Never throws for a scoring failure: that is logged, counted and
   * answered with the records scored so far, so the champion's outputs go out regardless.
   */
  score(windows: readonly Scoring[], heartbeat: () => Promise<void>): Promise<Message[] | undefined>;
}

/** A raised alert's window and the version that scored it. */
export interface ExplainRequest {
  readonly window: Scoring;
  readonly modelVersion: string;
  /** The score it was served: the explanation's base, not recomputed. */
  readonly score: number;
}

export interface Clock {
  /** Wall-clock milliseconds (alerts' `emittedAt`, the event-to-alert histogram). */
  now(): number;
}

/** One fetched batch of one partition of the readings or logs topic, with its records already decoded. */
export interface BatchInput<D> {
  readonly topic: string;
  readonly partition: number;
  /** The topic's incarnation as the group knows it (src/state/incarnation.ts); absent: unknown (''). */
  readonly incarnation?: string;
  readonly messages: readonly Pick<KafkaMessage, 'key' | 'value' | 'offset' | 'timestamp'>[];
  readonly decoded: readonly D[];
}
