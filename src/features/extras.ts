/**
 * Optional extra channels of the sensor branch (PDM_EXTRA_FEATURES), computed from what the streams already
 * carry. One function (`fillExtraChannels`, called by `featurize`) computes them for training and for the
 * worker; the two only supply the same two timestamps (`WindowContext`) from their own data.
 *
 * Layout of a row of the numeric input: the sensors (standard-scaled), then one delta channel per sensor,
 * then `age`, then `log-age` — always in this order, whatever order the variable lists them in.
 */

/** The extra channels, in their canonical order. */
export const EXTRA_FEATURES = ['delta', 'age', 'log-age'] as const;
export type ExtraFeature = (typeof EXTRA_FEATURES)[number];

/**
 * Ages beyond 30 days read as 30 days. Training sees a machine's history back to the sample store's
 * retention (90 days by default) while a worker knows a machine from the first reading it consumed: past
 * the cap both say "old", so they agree as soon as both have seen 30 days of the machine.
 */
export const AGE_CAP_MS = 30 * 86_400_000;

/** What a model version was trained with: recorded in the registry meta, used when that version scores. */
export interface ExtraFeatures {
  /** Canonical order, no duplicates. */
  readonly channels: readonly ExtraFeature[];
  /** delta = scaled reading minus the scaled reading this many rows earlier in the window (0 where none). */
  readonly deltaLag: number;
  /** The age cap (AGE_CAP_MS when trained). */
  readonly ageCapMs: number;
  /** The log-age cap: the training run's log lookback, the span of logs the worker keeps. */
  readonly logAgeCapMs: number;
}

/** The two timestamps the extra channels need besides the window itself. */
export interface WindowContext {
  /** The machine's first reading (event time), as far back as the data goes. */
  readonly firstTs: number | undefined;
  /** The newest log at or before the window's end, if any is known. */
  readonly lastLogTs: number | undefined;
}

/** The channels as configured (PDM_EXTRA_FEATURES), before the training run fixes its caps. */
export interface ExtraFeatureChoice {
  readonly channels: readonly ExtraFeature[];
  readonly deltaLag: number;
}

export const NO_EXTRA_FEATURES: ExtraFeatureChoice = { channels: [], deltaLag: 1 };

/**
 * Parses PDM_EXTRA_FEATURES: a comma-separated subset of `delta` (or `delta:K`, lag K ≥ 1, default 1),
 * `age`, `log-age`; empty or `none` for no extra channel. Returns a message (without the variable's name).
 */
export function parseExtraFeatures(text: string): ExtraFeatureChoice | { error: string } {
  const items = text
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  if (items.length === 0 || (items.length === 1 && items[0] === 'none')) return NO_EXTRA_FEATURES;
  const chosen = new Set<ExtraFeature>();
  let deltaLag = 1;
  for (const item of items) {
    const [name, arg, ...rest] = item.split(':');
    if (name === 'delta' && arg !== undefined && rest.length === 0) {
      const lag = Number(arg);
      if (!/^\d+$/.test(arg) || lag < 1 || lag > 1000)
        return { error: `"${item}": the delta lag must be a whole number from 1 to 1000 (delta:6)` };
      deltaLag = lag;
      chosen.add('delta');
    } else if (arg === undefined && (EXTRA_FEATURES as readonly string[]).includes(name ?? '')) {
      chosen.add(name as ExtraFeature);
    } else {
      return { error: `"${item}" is not one of ${EXTRA_FEATURES.join(', ')}, delta:K or none` };
    }
  }
  return { channels: EXTRA_FEATURES.filter((f) => chosen.has(f)), deltaLag };
}

/** The text form of a choice (`delta:3,age`), for summaries and logs. */
export function formatExtraFeatures(x: ExtraFeatureChoice | undefined): string {
  if (!x || x.channels.length === 0) return 'none';
  return x.channels.map((c) => (c === 'delta' && x.deltaLag !== 1 ? `delta:${x.deltaLag}` : c)).join(',');
}

/** Channels per row of the numeric input: the sensors, then the extras. */
export function channelCount(sensors: number, extras: ExtraFeatures | undefined): number {
  if (!extras) return sensors;
  let n = sensors;
  for (const c of extras.channels) n += c === 'delta' ? sensors : 1;
  return n;
}

/** A readable name per channel, in layout order (`Δvolt` for a delta). */
export function channelNames(sensors: readonly string[], extras: ExtraFeatures | undefined): string[] {
  const names = [...sensors];
  for (const c of extras?.channels ?? []) {
    if (c === 'delta') names.push(...sensors.map((s) => `Δ${s}`));
    else names.push(c);
  }
  return names;
}

/** The columns that carry sensor `col`'s information: its value and, with deltas, its delta. */
export function sensorColumns(col: number, sensors: number, extras: ExtraFeatures | undefined): number[] {
  return extras?.channels.includes('delta') ? [col, sensors + col] : [col];
}

/** min(elapsed, cap) / cap, in [0, 1]; unknown (no log kept, no first reading) reads as the cap. */
const capped = (elapsed: number | undefined, capMs: number): number =>
  elapsed === undefined || capMs <= 0 ? 1 : Math.min(Math.max(elapsed, 0), capMs) / capMs;

/**
 * Fills the extra channels of a featurised window in place. `numeric` is window × channels, row-major, with
 * the sensors already scaled in columns [0, sensors); rows before `offset` are padding (all zero) and stay so.
 * `endTs` is the window's last reading. No allocation: the worker runs this once per scored reading.
 *
 * - delta: scaled value minus the scaled value `deltaLag` rows earlier (0 for the first rows): a trend the
 *   window itself holds, so it needs no state and inherits the fitted scaler (a delta of z-scores).
 * - age: min(endTs − firstTs, ageCap) / ageCap, the same on every row (a property of the machine, not a step).
 * - log-age: min(endTs − lastLogTs, logAgeCap) / logAgeCap on every row; no log within the cap reads 1.
 * The time channels take a fixed transform to [0, 1] rather than a fitted scaler: they are bounded by their
 * caps, need no extra parameter in the registry, and read the same for every model trained with the caps.
 */
export function fillExtraChannels(
  numeric: Float32Array,
  rows: {
    readonly window: number;
    readonly offset: number;
    readonly sensors: number;
    readonly endTs: number;
  },
  extras: ExtraFeatures,
  context: WindowContext | undefined,
): void {
  const { window, offset, sensors, endTs } = rows;
  const f = channelCount(sensors, extras);
  let col = sensors;
  for (const channel of extras.channels) {
    if (channel === 'delta') {
      for (let row = offset + extras.deltaLag; row < window; row++) {
        const at = row * f;
        const before = (row - extras.deltaLag) * f;
        for (let s = 0; s < sensors; s++) numeric[at + col + s] = numeric[at + s]! - numeric[before + s]!;
      }
      col += sensors;
      continue;
    }
    const value =
      channel === 'age'
        ? capped(context?.firstTs === undefined ? undefined : endTs - context.firstTs, extras.ageCapMs)
        : capped(
            context?.lastLogTs === undefined ? undefined : endTs - context.lastLogTs,
            extras.logAgeCapMs,
          );
    for (let row = offset; row < window; row++) numeric[row * f + col] = value;
    col += 1;
  }
}
