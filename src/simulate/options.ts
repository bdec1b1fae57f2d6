import { parseDuration } from '../config';
import { UsageError } from '../cli/args';
import type { FlagSpecs, ParsedArgs } from '../cli/args';
import { FAILURE_MODES } from './fleet';
import type { FailureMode } from './fleet';

/** The flags of `pdm simulate` (the CLI parses them, parseSimulateArgs validates them). */
export const SIMULATE_FLAGS: FlagSpecs = {
  machines: { type: 'string', value: 'N', default: '20', help: 'number of machines, ids m-000…' },
  seed: {
    type: 'string',
    value: 'S',
    default: '1',
    help: 'integer PRNG seed; the same seed gives the same fleet',
  },
  rate: { type: 'string', value: 'R', default: '20', help: 'readings per second in live mode' },
  duration: { type: 'string', value: 'D', help: 'stop live mode after D of wall-clock time (e.g. 10m)' },
  count: { type: 'string', value: 'N', help: 'stop after N readings in all' },
  history: {
    type: 'string',
    value: 'D',
    help: 'backfill D of event time up to now (e.g. 30d) as fast as possible, then exit',
  },
  follow: { type: 'boolean', help: 'after --history, continue in live mode instead of exiting' },
  start: {
    type: 'string',
    value: 'ISO',
    default: 'now - history, or now',
    help: 'event time of the first reading',
  },
  step: {
    type: 'string',
    value: 'D',
    default: '1h',
    help: 'event time between two readings of a machine, 1m…6h',
  },
  'failure-modes': {
    type: 'string',
    value: 'LIST',
    default: 'all',
    help: `comma-separated subset of ${FAILURE_MODES.join(',')}`,
  },
  degradation: {
    type: 'string',
    value: 'A-B',
    default: '24h-48h',
    help: 'length of the degradation before a failure',
  },
  mtbf: { type: 'string', value: 'D', default: '12d', help: 'mean time between failures of a machine' },
};

export const SIMULATE_NOTES = `Without --history the simulator runs live until --duration, --count or a signal. Live event time
advances one step per N readings (at R/s), faster than the wall clock: a worker dead-letters readings
more than PDM_MAX_FUTURE_SKEW ahead of it, so start long live runs in the past (--start) or raise that.`;

export interface SimulateOptions {
  readonly machines: number;
  readonly seed: number;
  readonly rate: number;
  readonly durationMs: number | undefined;
  readonly count: number | undefined;
  readonly historyMs: number | undefined;
  readonly follow: boolean;
  readonly start: number;
  /** End of the backfill (exclusive, epoch ms): start + history, or just past now when --start is not given. */
  readonly backfillEnd: number | undefined;
  readonly stepMs: number;
  readonly failureModes: readonly FailureMode[];
  readonly degradationMs: { readonly min: number; readonly max: number } | undefined;
  readonly mtbfMs: number | undefined;
}

function usage(message: string): UsageError {
  return new UsageError(`simulate: ${message}`);
}

function intFlag(name: string, text: string, min: number, max: number): number {
  const value = /^-?\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max)
    throw usage(`--${name} must be an integer in ${min}…${max}, got "${text}"`);
  return value;
}

function durationFlag(name: string, text: string, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch {
    throw usage(`--${name} must be a duration such as 90s, 10m, 24h or 30d, got "${text}"`);
  }
  if (ms < min || ms > max) throw usage(`--${name} is out of range: "${text}"`);
  return ms;
}

/** Validates the flags of `pdm simulate` (pure; `now` is the wall clock in epoch ms). */
export function parseSimulateArgs(args: ParsedArgs, now: number): SimulateOptions {
  if (args.positional.length > 0) throw usage(`unexpected argument "${args.positional[0]}"`);
  const f = args.flags;
  const machines = f.machines === undefined ? 20 : intFlag('machines', f.machines, 1, 100_000);
  const seed = f.seed === undefined ? 1 : intFlag('seed', f.seed, -(2 ** 31), 2 ** 32 - 1);
  let rate = 20;
  if (f.rate !== undefined) {
    rate = Number(f.rate);
    if (f.rate.trim() === '' || !Number.isFinite(rate) || rate <= 0 || rate > 1_000_000)
      throw usage(`--rate must be a number of readings per second in (0, 1000000], got "${f.rate}"`);
  }
  const durationMs = f.duration === undefined ? undefined : durationFlag('duration', f.duration);
  const count = f.count === undefined ? undefined : intFlag('count', f.count, 1, Number.MAX_SAFE_INTEGER);
  const historyMs =
    f.history === undefined ? undefined : durationFlag('history', f.history, 1, 3650 * 86_400_000);
  let follow = false;
  if (f.follow !== undefined) {
    if (f.follow !== 'true' && f.follow !== 'false')
      throw usage(`--follow takes no value, got "${f.follow}"`);
    follow = f.follow === 'true';
  }
  if (follow && historyMs === undefined)
    throw usage('--follow continues live after a backfill: it needs --history');
  if (durationMs !== undefined && historyMs !== undefined && !follow)
    throw usage('--duration limits live mode; with --history add --follow');
  const stepMs = f.step === undefined ? 3_600_000 : durationFlag('step', f.step, 60_000, 6 * 3_600_000);

  let start: number;
  let backfillEnd: number | undefined;
  if (f.start !== undefined) {
    start = /^\d{4}-\d{2}-\d{2}/.test(f.start) ? Date.parse(f.start) : NaN;
    if (!Number.isFinite(start))
      throw usage(`--start must be an ISO-8601 time such as 2026-01-01T00:00:00Z, got "${f.start}"`);
    if (historyMs !== undefined) backfillEnd = start + historyMs;
  } else {
    // Aligned to the step so timestamps read as whole hours (or minutes); the backfill runs up to now.
    start = Math.floor((now - (historyMs ?? 0)) / stepMs) * stepMs;
    if (historyMs !== undefined) backfillEnd = now + 1;
  }

  let failureModes: readonly FailureMode[] = FAILURE_MODES;
  if (f['failure-modes'] !== undefined) {
    const names = f['failure-modes']
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const bad = names.filter((n) => !(FAILURE_MODES as readonly string[]).includes(n));
    if (names.length === 0 || bad.length > 0)
      throw usage(
        `--failure-modes takes a comma list of ${FAILURE_MODES.join(',')}, got "${f['failure-modes']}"`,
      );
    failureModes = [...new Set(names)] as FailureMode[];
  }

  let degradationMs: { min: number; max: number } | undefined;
  if (f.degradation !== undefined) {
    const parts = f.degradation.split('-');
    const a = parts[0] ?? '';
    const b = parts[1] ?? a;
    if (parts.length > 2) throw usage(`--degradation takes D or A-B, got "${f.degradation}"`);
    const min = durationFlag('degradation', a, stepMs, 30 * 86_400_000);
    const max = durationFlag('degradation', b, stepMs, 30 * 86_400_000);
    if (max < min) throw usage(`--degradation A-B needs A <= B, got "${f.degradation}"`);
    degradationMs = { min, max };
  }
  const mtbfMs = f.mtbf === undefined ? undefined : durationFlag('mtbf', f.mtbf, 3_600_000);
  return {
    machines,
    seed,
    rate,
    durationMs,
    count,
    historyMs,
    follow,
    start,
    backfillEnd,
    stepMs,
    failureModes,
    degradationMs,
    mtbfMs,
  };
}
