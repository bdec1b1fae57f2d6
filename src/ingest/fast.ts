import type { LogEntry, Reading } from './schemas';

/**
 * Hand-written checks for the common, valid shape of a reading and a log. Why: zod costs 6–10 µs a
 * reading, more than everything else in ingest together. These checks accept only documents that the zod
 * schemas in schemas.ts accept *and* that zod would return unchanged (a machineId that `trim()` would
 * alter, an extra property, a number out of range: all answer `undefined`). `undefined` means "not sure",
 * never "invalid": the decoder then runs the full path (the unsafe-key check, then zod), which decides and
 * words the error. A document with a prototype-polluting key is always declined. So the
 * outcome and the dead-letter message of every record are exactly zod's; only the cost of the clean ones drops.
 * test/ingest/fast.test.ts checks the equivalence on generated documents.
 */

const ISO_TS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;
/** The same pattern as the schema's machineId; a match also means `trim()` leaves the id unchanged. */
const MACHINE_ID = /^[^\s\u0000-\u001f]+$/;
const MAX_TS = 8.64e15;
const MAX_SENSORS = 256;

/** Keys that could pollute a prototype where a document is merged into another object: refused anywhere. */
const UNSAFE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export function isUnsafeKey(key: string): boolean {
  return UNSAFE_KEYS.has(key);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function machineIdOf(value: unknown): string | undefined {
  return typeof value === 'string' && value.length <= 200 && MACHINE_ID.test(value) ? value : undefined;
}

/** Event time in epoch ms, or undefined when the schema's eventTime would not accept it as is. */
function eventTimeOf(value: unknown): number | undefined {
  if (typeof value === 'number')
    return Number.isInteger(value) && value >= 0 && value <= MAX_TS ? value : undefined;
  if (typeof value === 'string' && value.length <= 64 && ISO_TS.test(value)) return Date.parse(value);
  return undefined;
}

/**
 * Finite numbers under 1–100 character names, 1–256 of them, none of them an unsafe key (these names are
 * the only keys of an accepted reading besides its three fields, so the decoder needs no other key check
 * for it). The parsed object itself is returned (zod copies it): it was made by JSON.parse for this record
 * alone, so nothing else holds it.
 */
function sensorValuesOf(value: unknown): Record<string, number> | undefined {
  if (!isPlainObject(value)) return undefined;
  let count = 0;
  for (const name in value) {
    const v = value[name];
    if (
      typeof v !== 'number' ||
      !Number.isFinite(v) ||
      name.length === 0 ||
      name.length > 100 ||
      UNSAFE_KEYS.has(name)
    )
      return undefined;
    count++;
  }
  return count > 0 && count <= MAX_SENSORS ? (value as Record<string, number>) : undefined;
}

/** Exactly the keys of the shape (no extra property whose non-finite numbers or nesting would need the full walk). */
function hasOnlyKeys(doc: Record<string, unknown>, allowed: ReadonlySet<string>): boolean {
  for (const key in doc) if (!allowed.has(key)) return false;
  return true;
}

const READING_KEYS = new Set(['machineId', 'ts', 'values']);
const LOG_KEYS = new Set(['machineId', 'ts', 'text']);

export function fastReading(doc: unknown): Reading | undefined {
  if (!isPlainObject(doc) || !hasOnlyKeys(doc, READING_KEYS)) return undefined;
  const machineId = machineIdOf(doc.machineId);
  const ts = eventTimeOf(doc.ts);
  const values = sensorValuesOf(doc.values);
  return machineId === undefined || ts === undefined || values === undefined
    ? undefined
    : { machineId, ts, values };
}

export function fastLog(doc: unknown): LogEntry | undefined {
  if (!isPlainObject(doc) || !hasOnlyKeys(doc, LOG_KEYS)) return undefined;
  const machineId = machineIdOf(doc.machineId);
  const ts = eventTimeOf(doc.ts);
  const text = doc.text;
  return machineId === undefined || ts === undefined || typeof text !== 'string' || text.length > 20_000
    ? undefined
    : { machineId, ts, text };
}
