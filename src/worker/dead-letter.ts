import { createHash } from 'node:crypto';
import type { KafkaMessage, Message } from 'kafkajs';
import type { DeadLetterCode } from '../errors';
import type { Logger } from '../log';
import type { OutputProducer } from './ports';

/**
 * Dead letters are bounded by construction. The record that failed can be anything a producer sent: a
 * 300 KB key of control bytes became a 2.1 MB dead letter (the key twice, each control byte escaped to six
 * characters in JSON), over the broker's default 1 MB `message.max.bytes`. kafkajs treats that as not
 * retriable, the consumer crashed, and every next owner of the partition died on the same record. So a
 * dead letter carries a truncated, marked copy of key and value, their original sizes and a digest of the
 * whole record, and its Kafka key is the original key only when that is short and valid UTF-8.
 */
export const DEAD_LETTER_KEY_BYTES = 256;
export const DEAD_LETTER_VALUE_BYTES = 4096;
/** One send carries at most this many bytes of dead letters (far below the broker's 1 MB default). */
export const DEAD_LETTER_SEND_BYTES = 256 * 1024;

export interface DeadLetterSource {
  readonly topic: string;
  readonly partition: number;
  readonly message: Pick<KafkaMessage, 'key' | 'value' | 'offset'>;
  readonly code: DeadLetterCode;
  readonly reason: string;
}

/** The first `max` bytes as text, cut back to a whole UTF-8 character so no half character is invented. */
function head(buf: Buffer, max: number): string {
  if (buf.length <= max) return buf.toString('utf8');
  let end = max;
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--; // a continuation byte: back to the character start
  return buf.subarray(0, end).toString('utf8');
}

function digest(message: DeadLetterSource['message']): string {
  const h = createHash('sha256');
  h.update(message.key ?? Buffer.alloc(0));
  h.update('\u0000');
  h.update(message.value ?? Buffer.alloc(0));
  return h.digest('hex');
}

/** The dead-letter record for one failed input record; its size does not depend on the input's size. */
export function buildDeadLetter(src: DeadLetterSource, now: Date = new Date()): Message {
  const { key, value } = src.message;
  const keyTruncated = key !== null && key.length > DEAD_LETTER_KEY_BYTES;
  const valueTruncated = value !== null && value.length > DEAD_LETTER_VALUE_BYTES;
  const body = {
    topic: src.topic,
    partition: src.partition,
    offset: src.message.offset,
    key: key === null ? null : head(key, DEAD_LETTER_KEY_BYTES),
    value: value === null ? null : head(value, DEAD_LETTER_VALUE_BYTES),
    error: { code: src.code, message: src.reason.slice(0, 1000) },
    at: now.toISOString(),
    ...(keyTruncated || valueTruncated
      ? {
          truncated: { key: keyTruncated, value: valueTruncated },
          keyBytes: key?.length ?? 0,
          valueBytes: value?.length ?? 0,
          sha256: digest(src.message),
        }
      : {}),
  };
  // Keep the original key (so the dead letter sits beside its machine) only when it is short and valid text.
  const safeKey = key !== null && !keyTruncated && Buffer.from(key.toString('utf8'), 'utf8').equals(key);
  return { key: safeKey ? key : null, value: JSON.stringify(body) };
}

/**
 * A minimal pointer to the failed record, for when even the bounded dead letter was refused by the broker:
 * where it was and why, without any of its bytes.
 */
export function pointerDeadLetter(deadLetter: Message): Message {
  const body = JSON.parse(String(deadLetter.value)) as Record<string, unknown>;
  const { topic, partition, offset, error, at, keyBytes, valueBytes, sha256 } = body;
  return {
    key: null,
    value: JSON.stringify({
      topic,
      partition,
      offset,
      key: null,
      value: null,
      error,
      at,
      pointer: true,
      keyBytes,
      valueBytes,
      sha256,
    }),
  };
}

const sizeOf = (m: Message) => (m.key ? Buffer.byteLength(m.key) : 0) + Buffer.byteLength(String(m.value));

/**
 * Splits records into sends of at most `maxBytes` (kafkajs sends one record batch per partition) and at
 * most `maxCount` records (kafkajs groups a send's records by partition in time quadratic in their number).
 */
export function chunkBySize(
  messages: readonly Message[],
  maxBytes = DEAD_LETTER_SEND_BYTES,
  maxCount = Infinity,
): Message[][] {
  const chunks: Message[][] = [];
  let current: Message[] = [];
  let bytes = 0;
  for (const m of messages) {
    const size = sizeOf(m);
    if (current.length > 0 && (bytes + size > maxBytes || current.length >= maxCount)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(m);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** Whether a produce error means "this record can never be accepted" rather than "try again". */
export function isRecordRefused(error: unknown): boolean {
  for (
    let e = error as { type?: unknown; cause?: unknown; errors?: unknown } | undefined, depth = 0;
    e && depth < 5;
    depth++
  ) {
    if (e.type === 'MESSAGE_TOO_LARGE' || e.type === 'RECORD_LIST_TOO_LARGE' || e.type === 'INVALID_RECORD')
      return true;
    e = (e.cause ?? (Array.isArray(e.errors) ? e.errors[0] : undefined)) as typeof e;
  }
  return false;
}

/**
 * Dead letters go in sends of bounded size, after the batch's alerts and scores. A dead letter the broker
 * still refuses as a record (too large for a topic configured smaller) is replaced by a pointer without
 * the record's bytes: one poison record must never stop the worker, nor every next owner of its partition.
 */
export async function sendDeadLetters(
  producer: OutputProducer,
  topic: string,
  messages: readonly Message[],
  logger: Logger,
): Promise<void> {
  for (const chunk of chunkBySize(messages)) {
    try {
      await producer.send([{ topic, messages: chunk }]);
    } catch (error) {
      if (!isRecordRefused(error)) throw error;
      logger.warn('dead letters refused by the broker; sending pointers without the records', {
        stage: 'dead-letter',
        count: chunk.length,
        error: (error as Error).message,
      });
      for (const pointers of chunkBySize(chunk.map(pointerDeadLetter)))
        await producer.send([{ topic, messages: pointers }]);
    }
  }
}
