import { isUtf8 } from 'node:buffer';
import type { KafkaMessage } from 'kafkajs';
import { decodeLog, decodeReading } from '../ingest';
import { Slicer } from '../loop';
import type { Decoded, DecodeLimits, LogEntry, Reading } from '../ingest';

/**
 * Decodes a fetched batch of the readings or logs topic; an invalid record becomes its dead-letter code.
 * In slices that let the event loop run between them (`slicer`): a fetched batch holds ten thousand records.
 */
export async function decodeBatch(
  messages: readonly Pick<KafkaMessage, 'key' | 'value'>[],
  role: 'readings' | 'logs',
  limits: DecodeLimits,
  slicer = new Slicer(),
): Promise<Decoded<Reading | LogEntry>[]> {
  const decoded: Decoded<Reading | LogEntry>[] = [];
  for (const m of messages) {
    if (slicer.due()) await slicer.yield();
    decoded.push(decodeRecord(m, role, limits));
  }
  return decoded;
}

/** Decodes one record of the readings or logs topic; an invalid record becomes its dead-letter code. */
export function decodeRecord(
  m: Pick<KafkaMessage, 'key' | 'value'>,
  role: 'readings' | 'logs',
  limits: DecodeLimits,
): Decoded<Reading | LogEntry> {
  // Lossy decoding would fold distinct binary keys into one machine (6d ff and 6d fe both read "m\uFFFD").
  if (m.key && !isUtf8Key(m.key))
    return { ok: false, code: 'bad_key', message: `key is not valid UTF-8 (${m.key.length} bytes)` };
  return role === 'readings'
    ? decodeReading(m.value, m.key?.toString(), limits)
    : decodeLog(m.value, m.key?.toString(), limits);
}

/** isUtf8, without its native call for the usual all-ASCII key (ASCII is valid UTF-8 as it is). */
function isUtf8Key(key: Buffer): boolean {
  for (let i = 0; i < key.length; i++) if (key[i]! >= 0x80) return isUtf8(key);
  return true;
}
