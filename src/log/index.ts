import { redactUrlPassword } from './redact';

/** Structured, namespaced logs: one JSON object per line on stderr, `(message, meta)` shaped. */
export type Level = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_KEY = /pass(word)?|secret|token|sasl|credential|authorization/i;

export interface Logger {
  debug(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
  child(bindings: Record<string, unknown>): Logger;
}

/** Secrets never reach a log line: credentials inside URLs and values under secret-looking keys are masked. */
export function redact(value: unknown, key = ''): unknown {
  if (SECRET_KEY.test(key) && value !== undefined && value !== null && key !== 'oovToken') return '***';
  if (typeof value === 'string') return redactUrlPassword(value);
  if (value instanceof Error) return { name: value.name, message: redact(value.message), stack: value.stack };
  if (Array.isArray(value)) return value.map((v) => redact(v));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v, k)]));
  }
  return value;
}

export function createLogger(
  level: Level = 'info',
  bindings: Record<string, unknown> = {},
  write: (line: string) => void = (line) => process.stderr.write(line + '\n'),
): Logger {
  const emit = (at: Level, message: string, meta?: Record<string, unknown>) => {
    if (RANK[at] < RANK[level]) return;
    write(
      JSON.stringify({
        t: new Date().toISOString(),
        level: at,
        ...bindings,
        msg: message,
        ...(redact(meta ?? {}) as object),
      }),
    );
  };
  return {
    debug: (m, meta) => emit('debug', m, meta),
    info: (m, meta) => emit('info', m, meta),
    warn: (m, meta) => emit('warn', m, meta),
    error: (m, meta) => emit('error', m, meta),
    child: (more) => createLogger(level, { ...bindings, ...more }, write),
  };
}
