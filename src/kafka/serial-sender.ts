import type { Message, Producer, ProducerBatch, RecordMetadata } from 'kafkajs';

/** Bounds of one coalesced send: a partition's record batch must stay under the broker's `message.max.bytes`. */
export interface CoalesceLimits {
  readonly maxBytes: number;
  readonly maxRecords: number;
}

interface Queued {
  readonly batch: ProducerBatch;
  readonly records: number;
  readonly bytes: number;
  readonly resolve: (metadata: RecordMetadata[]) => void;
  readonly reject: (error: unknown) => void;
}

const bytesOf = (m: Message) =>
  (m.key ? Buffer.byteLength(m.key) : 0) + (m.value ? Buffer.byteLength(m.value) : 0);

/**
 * Sends through one idempotent producer one batch at a time.
 *
 * Why: kafkajs 2.2.4 numbers an idempotent batch when it is sent and rolls the number back when the
 * request fails, then retries after a delay. If the request had in fact been written (the connection
 * dropped before the answer), a batch from a concurrent `sendBatch` can take the rolled-back number in
 * that delay: the broker takes it for a retry of the written batch, acknowledges it without writing it,
 * and the retried original is then written a second time under the next number. One record lost, one
 * duplicated; test/faults/producer.test.ts reproduces it against the real broker. With one send at a
 * time, a batch's retries finish (inside its own call) before the next batch is numbered.
 *
 * Batches that arrive while a send is in flight are coalesced into the next send (within `limits`, in
 * arrival order, so each caller's records keep their order): several partitions' batches then wait for one
 * acknowledgement instead of queueing for one each. A coalesced send succeeds or fails as a whole, for
 * every caller in it; each gets the whole send's metadata.
 */
export class SerialSender {
  private queue: Queued[] = [];
  private sending = false;

  constructor(
    private readonly producer: Pick<Producer, 'sendBatch'>,
    private readonly limits: CoalesceLimits = { maxBytes: 512 * 1024, maxRecords: 1_000 },
  ) {}

  sendBatch(batch: ProducerBatch): Promise<RecordMetadata[]> {
    return new Promise((resolve, reject) => {
      const messages = (batch.topicMessages ?? []).flatMap((t) => t.messages);
      const bytes = messages.reduce((n, m) => n + bytesOf(m), 0);
      this.queue.push({ batch, records: messages.length, bytes, resolve, reject });
      if (!this.sending) void this.pump();
    });
  }

  private async pump(): Promise<void> {
    this.sending = true;
    try {
      while (this.queue.length > 0) {
        const group = this.takeGroup();
        try {
          const metadata = await this.producer.sendBatch(merge(group.map((q) => q.batch)));
          for (const q of group) q.resolve(metadata);
        } catch (error) {
          for (const q of group) q.reject(error); // one failed send must not fail the ones queued after it
        }
      }
    } finally {
      this.sending = false;
    }
  }

  /** The head of the queue and the batches after it that fit in one send with the same options. */
  private takeGroup(): Queued[] {
    const first = this.queue[0]!;
    let records = first.records;
    let bytes = first.bytes;
    let n = 1;
    for (; n < this.queue.length; n++) {
      const next = this.queue[n]!;
      if (!sameOptions(first.batch, next.batch)) break;
      if (records + next.records > this.limits.maxRecords || bytes + next.bytes > this.limits.maxBytes) break;
      records += next.records;
      bytes += next.bytes;
    }
    return this.queue.splice(0, n);
  }
}

function sameOptions(a: ProducerBatch, b: ProducerBatch): boolean {
  return a.acks === b.acks && a.timeout === b.timeout && a.compression === b.compression;
}

/** One batch with every topic once (kafkajs keys a send's topics by name: a repeated topic would be dropped). */
function merge(batches: readonly ProducerBatch[]): ProducerBatch {
  if (batches.length === 1) return batches[0]!;
  const byTopic = new Map<string, Message[]>();
  for (const b of batches)
    for (const { topic, messages } of b.topicMessages ?? []) {
      const list = byTopic.get(topic);
      if (list) list.push(...messages);
      else byTopic.set(topic, [...messages]);
    }
  return {
    ...batches[0]!,
    topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
  };
}
