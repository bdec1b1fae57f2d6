/**
 * Drift of the live inputs against what a model was trained on, over a sliding event-time window. Pure (no
 * I/O): the evaluator feeds it the readings and log words it consumes, off the worker's hot path.
 *
 * Sensors: the registry keeps each model's scaler (training mean and standard deviation), not a histogram,
 * so the reference distribution is the normal with those moments. Its deciles are the bins: a live window
 * distributed like the training data puts 10% of the values in each, and the population stability index
 * PSI = Σ (live% − 10%) · ln(live% / 10%) measures the departure (< 0.1 stable, 0.1–0.25 moderate, > 0.25 a
 * shift by the usual rule of thumb). The standardised mean shift (live mean − training mean) / training std
 * is published beside it: it needs no normality and says which way a sensor moved.
 *
 * Words: the share of log tokens that the model's vocabulary does not map (unknown words, or words beyond
 * num_words): those reach the model as nothing, or as the OOV token.
 */

/** Standard normal deciles: the bin edges in z units. */
const DECILE_EDGES = [-1.2816, -0.8416, -0.5244, -0.2533, 0, 0.2533, 0.5244, 0.8416, 1.2816];
const BINS = DECILE_EDGES.length + 1;
/** A bin with no live value counts as this share, so that ln(live / expected) stays finite. */
const FLOOR = 1e-4;

export interface DriftReference {
  /** The model version the reference belongs to: a new one restarts the window. */
  readonly version: string;
  readonly sensors: readonly string[];
  readonly mean: readonly number[];
  readonly std: readonly number[];
  /** Whether the model's vocabulary maps this (lower-cased) word to an id of its own. */
  readonly knows: (word: string) => boolean;
}

interface Slot {
  /** Per sensor: decile bin counts, then n, Σz. */
  readonly bins: Float64Array[];
  readonly n: Float64Array;
  readonly sumZ: Float64Array;
  tokens: number;
  oov: number;
}

export interface SensorDrift {
  readonly sensor: string;
  readonly psi: number;
  readonly meanShift: number;
  readonly n: number;
}

export interface DriftSnapshot {
  readonly version: string;
  readonly sensors: readonly SensorDrift[];
  /** OOV tokens / tokens in the window; null with no tokens. */
  readonly oovRatio: number | null;
  readonly tokens: number;
}

export function decileBin(z: number): number {
  let i = 0;
  while (i < DECILE_EDGES.length && z >= DECILE_EDGES[i]!) i++;
  return i;
}

/** PSI of live bin counts against equal expected shares. */
export function psiOfCounts(counts: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < counts.length; i++) n += counts[i]!;
  if (n === 0) return 0;
  const expected = 1 / counts.length;
  let psi = 0;
  for (let i = 0; i < counts.length; i++) {
    const live = Math.max(FLOOR, counts[i]! / n);
    psi += (live - expected) * Math.log(live / expected);
  }
  return psi;
}

/**
 * The window is `slots` event-time slots of windowMs / slots each; the newest event time seen sets the
 * current slot and slots older than the window are dropped, so memory is bounded by slots × sensors × 10.
 */
export class DriftWindow {
  private readonly slotMs: number;
  private readonly slotsByIndex = new Map<number, Slot>();
  private newest = -Infinity;
  private ref: DriftReference | undefined;

  constructor(
    windowMs: number,
    private readonly slots = 24,
  ) {
    this.slotMs = Math.max(1, Math.floor(windowMs / slots));
  }

  /** Sets the reference (the serving model's); a different version empties the window. */
  setReference(ref: DriftReference): void {
    if (this.ref?.version === ref.version) return;
    this.ref = ref;
    this.slotsByIndex.clear();
  }

  get reference(): DriftReference | undefined {
    return this.ref;
  }

  private slot(ts: number): Slot | undefined {
    const ref = this.ref;
    if (!ref) return undefined;
    const index = Math.floor(ts / this.slotMs);
    this.newest = Math.max(this.newest, ts);
    const oldest = Math.floor(this.newest / this.slotMs) - this.slots + 1;
    if (index < oldest) return undefined; // older than the window
    for (const k of this.slotsByIndex.keys()) if (k < oldest) this.slotsByIndex.delete(k);
    let s = this.slotsByIndex.get(index);
    if (!s) {
      const f = ref.sensors.length;
      s = {
        bins: Array.from({ length: f }, () => new Float64Array(BINS)),
        n: new Float64Array(f),
        sumZ: new Float64Array(f),
        tokens: 0,
        oov: 0,
      };
      this.slotsByIndex.set(index, s);
    }
    return s;
  }

  reading(ts: number, values: Readonly<Record<string, number>>): void {
    const s = this.slot(ts);
    const ref = this.ref;
    if (!s || !ref) return;
    ref.sensors.forEach((sensor, i) => {
      const value = values[sensor];
      if (value === undefined) return;
      const std = ref.std[i] ?? 1;
      const z = (value - (ref.mean[i] ?? 0)) / (std > 0 ? std : 1);
      s.bins[i]![decileBin(z)]!++;
      s.n[i]!++;
      s.sumZ[i]! += z;
    });
  }

  words(ts: number, words: readonly string[]): void {
    const s = this.slot(ts);
    const ref = this.ref;
    if (!s || !ref) return;
    s.tokens += words.length;
    for (const w of words) if (!ref.knows(w.toLowerCase())) s.oov++;
  }

  snapshot(): DriftSnapshot | undefined {
    const ref = this.ref;
    if (!ref) return undefined;
    const f = ref.sensors.length;
    const bins = Array.from({ length: f }, () => new Float64Array(BINS));
    const n = new Float64Array(f);
    const sumZ = new Float64Array(f);
    let tokens = 0;
    let oov = 0;
    for (const s of this.slotsByIndex.values()) {
      for (let i = 0; i < f; i++) {
        for (let b = 0; b < BINS; b++) bins[i]![b]! += s.bins[i]![b]!;
        n[i]! += s.n[i]!;
        sumZ[i]! += s.sumZ[i]!;
      }
      tokens += s.tokens;
      oov += s.oov;
    }
    return {
      version: ref.version,
      sensors: ref.sensors.map((sensor, i) => ({
        sensor,
        psi: psiOfCounts(bins[i]!),
        meanShift: n[i]! > 0 ? sumZ[i]! / n[i]! : 0,
        n: n[i]!,
      })),
      oovRatio: tokens > 0 ? oov / tokens : null,
      tokens,
    };
  }
}
