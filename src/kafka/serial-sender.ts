import type { Producer, ProducerBatch, RecordMetadata } from 'kafkajs';

/**
 * Sends through one idempotent producer one batch at a time.
 *
 * Why: kafkajs 2.2.4 numbers an idempotent batch when it is sent and rolls the number back when the
 * request fails, then retries after a delay. If the request had in fact been written (the connection
 * dropped before the answer), a batch from a concurrent `sendBatch` can take the rolled-back number in
 * that delay: the broker takes it for a retry of the written batch, acknowledges it without writing it,
 * and the retried original is then written a second time under the next number. One record lost, one
 * duplicated; test/kafka/idempotent-concurrency.test.ts reproduces it against the real broker. With one
 * send at a time, a batch's retries finish (inside its own call) before the next batch is numbered.
 * The cost is little: kafkajs already serialises an idempotent producer's requests per broker.
 */
export class SerialSender {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly producer: Pick<Producer, 'sendBatch'>) {}

  sendBatch(batch: ProducerBatch): Promise<RecordMetadata[]> {
    const sent = this.tail.then(() => this.producer.sendBatch(batch));
    this.tail = sent.catch(() => undefined); // one failed batch must not fail the ones queued after it
    return sent;
  }
}
