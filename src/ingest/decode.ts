import type { z, ZodIssue } from 'zod';
import { UnsafeKeyError } from '../errors';
import type { DeadLetterCode } from '../errors';
import { fastLog, fastReading, isUnsafeKey } from './fast';
import { failureSchema, logSchema, readingSchema } from './schemas';
import type { Failure, LogEntry, Reading } from './schemas';

/** The dead-letter codes decoding can return (`late` is decided later, against the machine's window). */
export type InvalidCode = Exclude<DeadLetterCode, 'late'>;

export type Decoded<T> = { ok: true; value: T } | { ok: false; code: InvalidCode; message: string };

export interface DecodeLimits {
  readonly maxRecordBytes: number;
  readonly maxFutureSkewMs: number;
  /** Wall clock, injected so tests control it. Only used for the `future` check. */
  readonly now: () => number;
  /** The worker requires key = machineId (a keyless record lands on an arbitrary partition). */
  readonly requireKey?: boolean;
}

/**
 * JSON.parse that refuses prototype-polluting keys anywhere in the document (the reviver sees every key of
 * the parsed value). The reviver costs more than the parse itself, so it runs only when the text could hold
 * such a key: without a backslash (an escape could spell one) and without the three words, none can be one.
 */
function parseCheckingKeys(text: string): unknown {
  if (!mayHoldUnsafeKey(text)) return JSON.parse(text);
  return JSON.parse(text, (key, value: unknown) => {
    if (isUnsafeKey(key)) throw new UnsafeKeyError(`key "${key}" is not allowed`);
    return value;
  });
}

function mayHoldUnsafeKey(text: string): boolean {
  return (
    text.includes('\\') ||
    text.includes('__proto__') ||
    text.includes('constructor') ||
    text.includes('prototype')
  );
}

/** Finds a non-finite number (JSON `1e999` parses to Infinity) so it never reaches the model. */
function findNonFinite(value: unknown, path: string): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : path;
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const hit = findNonFinite(v, `${path}.${k}`);
      if (hit) return hit;
    }
  }
  return undefined;
}

function classify(issues: readonly ZodIssue[]): { code: InvalidCode; message: string } {
  const first = issues[0];
  const where = first?.path.join('.') ?? '';
  const message = issues
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ')
    .slice(0, 500);
  if (where === 'machineId') return { code: 'missing_machine_id', message };
  if (where === 'ts') return { code: 'bad_ts', message };
  return { code: 'bad_shape', message };
}

function toMillis(ts: number | string): number {
  return typeof ts === 'number' ? ts : Date.parse(ts);
}

function decodeWith<T extends { machineId: string; ts: number }>(
  raw: Buffer | null,
  key: string | undefined,
  limits: DecodeLimits,
  parse: (doc: unknown) => { success: true; data: T } | { success: false; issues: readonly ZodIssue[] },
  /** The common valid shape checked by hand (fast.ts); undefined sends the document through the full checks. */
  fast: (doc: unknown) => T | undefined = () => undefined,
): Decoded<T> {
  if (!raw || raw.length === 0) return { ok: false, code: 'bad_json', message: 'empty value' };
  if (raw.length > limits.maxRecordBytes)
    return { ok: false, code: 'oversize', message: `${raw.length} bytes > limit ${limits.maxRecordBytes}` };
  const text = raw.toString(); // UTF-8; without arguments Buffer#toString skips its encoding lookup
  let doc: unknown;
  try {
    // The plain parse first: a syntax error is the same with or without the key check's reviver.
    doc = JSON.parse(text);
  } catch (error) {
    return { ok: false, code: 'bad_json', message: (error as Error).message.slice(0, 200) };
  }
  // The common clean record: the fast check sees every key of a document it accepts and declines the
  // unsafe ones (fast.ts), so it needs neither the text scan nor the reviver of the full path.
  const value = fast(doc) ?? checkedText(text, doc, parse);
  if ('code' in value) return value;
  if (!Number.isFinite(value.ts))
    return { ok: false, code: 'bad_ts', message: 'ts does not parse as a date' };
  if (key === undefined && limits.requireKey) {
    return {
      ok: false,
      code: 'key_mismatch',
      message: `record has no key; producers must key records by machineId ("${value.machineId}")`,
    };
  }
  if (key !== undefined && key !== value.machineId) {
    // Co-partitioning relies on key = machineId; a record under another key may sit on the wrong partition.
    return {
      ok: false,
      code: 'key_mismatch',
      message: `key "${key.slice(0, 100)}" differs from machineId "${value.machineId}"`,
    };
  }
  if (value.ts > limits.now() + limits.maxFutureSkewMs) {
    return {
      ok: false,
      code: 'future',
      message: `ts ${new Date(value.ts).toISOString()} is more than ${limits.maxFutureSkewMs} ms ahead of the clock`,
    };
  }
  return { ok: true, value };
}

/** The full checks of a parsed text: prototype-polluting keys, then `checked`. */
function checkedText<T>(
  text: string,
  doc: unknown,
  parse: (doc: unknown) => { success: true; data: T } | { success: false; issues: readonly ZodIssue[] },
): T | { ok: false; code: InvalidCode; message: string } {
  try {
    // Re-parsed with the reviver (the same document, now walked key by key) only when a key could be unsafe.
    if (mayHoldUnsafeKey(text)) doc = parseCheckingKeys(text);
  } catch (error) {
    if (error instanceof UnsafeKeyError) return { ok: false, code: 'unsafe_key', message: error.message };
    throw error;
  }
  return checked(doc, parse);
}

/** The full checks, in the order that decides the reason code: non-finite numbers anywhere, then the schema. */
function checked<T>(
  doc: unknown,
  parse: (doc: unknown) => { success: true; data: T } | { success: false; issues: readonly ZodIssue[] },
): T | { ok: false; code: InvalidCode; message: string } {
  const nonFinite = findNonFinite(doc, '$');
  if (nonFinite) return { ok: false, code: 'non_finite', message: `non-finite number at ${nonFinite}` };
  const parsed = parse(doc);
  return parsed.success ? parsed.data : { ok: false, ...classify(parsed.issues) };
}

function zodResult<T>(r: { success: true; data: T } | { success: false; error: { issues: ZodIssue[] } }) {
  return r.success
    ? { success: true as const, data: r.data }
    : { success: false as const, issues: r.error.issues };
}

/** A schema's safeParse as the decoder's parse, with `ts` in epoch ms (zod returns only the schema's keys). */
function parseWith<S extends { machineId: string; ts: number | string }>(schema: z.ZodType<S>) {
  return (doc: unknown) => {
    const r = zodResult(schema.safeParse(doc));
    return r.success ? { success: true as const, data: { ...r.data, ts: toMillis(r.data.ts) } } : r;
  };
}

const readingParse = parseWith(readingSchema);
const logParse = parseWith(logSchema);

export function decodeReading(
  raw: Buffer | null,
  key: string | undefined,
  limits: DecodeLimits,
): Decoded<Reading> {
  return decodeWith(raw, key, limits, readingParse, fastReading);
}

export function decodeLog(
  raw: Buffer | null,
  key: string | undefined,
  limits: DecodeLimits,
): Decoded<LogEntry> {
  return decodeWith(raw, key, limits, logParse, fastLog);
}

/**
 * The full path alone, without the fast checks: what decodeReading and decodeLog must answer for every
 * input (test/ingest/fast.test.ts holds them to it, outcome and message).
 */
export const fullPath = {
  reading: (raw: Buffer | null, key: string | undefined, limits: DecodeLimits): Decoded<Reading> =>
    decodeWith(raw, key, limits, readingParse),
  log: (raw: Buffer | null, key: string | undefined, limits: DecodeLimits): Decoded<LogEntry> =>
    decodeWith(raw, key, limits, logParse),
};

export function decodeFailure(
  raw: Buffer | null,
  key: string | undefined,
  limits: DecodeLimits,
): Decoded<Failure> {
  return decodeWith(raw, key, limits, (doc) => {
    const r = zodResult(failureSchema.safeParse(doc));
    return r.success
      ? {
          success: true,
          data: { machineId: r.data.machineId, ts: toMillis(r.data.ts), component: r.data.component },
        }
      : r;
  });
}
