import { isUtf8 } from 'node:buffer';
import type { KafkaMessage } from 'kafkajs';
import { decodeLog, decodeReading } from '../ingest';
import type { Decoded, DecodeLimits, LogEntry, Reading } from '../ingest';

/** Decodes a fetched batch of the readings or logs topic; an invalid record becomes its dead-letter code. */
export function decodeBatch(
  messages: readonly Pick<KafkaMessage, 'key' | 'value'>[],
  role: 'readings' | 'logs',
  limits: DecodeLimits,
): Decoded<Reading | LogEntry>[] {
  const decode = role === 'readings' ? decodeReading : decodeLog;
  return messages.map((m) =>
    // Lossy decoding would fold distinct binary keys into one machine (6d ff and 6d fe both read "m\uFFFD").
    m.key && !isUtf8Key(m.key)
      ? { ok: false, code: 'bad_key', message: `key is not valid UTF-8 (${m.key.length} bytes)` }
      : decode(m.value, m.key?.toString(), limits),
  );
}

/** isUtf8, without its native call for the usual all-ASCII key (ASCII is valid UTF-8 as it is). */
function isUtf8Key(key: Buffer): boolean {
  for (let i = 0; i < key.length; i++) if (key[i]! >= 0x80) return isUtf8(key);
  return true;
}
