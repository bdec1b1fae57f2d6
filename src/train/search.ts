import type { ModelShape } from '../config';
import { mulberry32 } from '../random';

/**
 * `pdm train --once --search N`: a small, seeded random search over model capacity. The configured model
 * (the seed architecture by default) is always tried first; then up to N − 1 distinct draws from the
 * knobs below, in an order fixed by the seed. Each knob is one entry of SEARCH_KNOBS, so a new option
 * is one line here once the model builder accepts it.
 */
export interface SearchConfig {
  /** Stacked sensor LSTM layers (PDM_LSTM_LAYERS). */
  readonly lstmLayers: number;
  readonly lstmUnits: number;
  readonly textLstmUnits: number;
  readonly denseUnits: number;
  readonly epochs: number;
}

type Knob = keyof SearchConfig;

/** The values each knob may take; the configured value is always allowed as well. */
export const SEARCH_KNOBS: Readonly<Record<Knob, readonly number[]>> = {
  lstmLayers: [1, 2],
  lstmUnits: [16, 32, 64, 128],
  textLstmUnits: [16, 32, 64],
  denseUnits: [16, 32, 64],
  epochs: [4, 8, 12],
};

export function baseSearchConfig(shape: ModelShape, epochs: number): SearchConfig {
  return {
    lstmLayers: shape.lstmLayers ?? 1,
    lstmUnits: shape.lstmUnits,
    textLstmUnits: shape.textLstmUnits,
    denseUnits: shape.denseUnits,
    epochs,
  };
}

/** A seeded PRNG (seed 0 draws as seed 1), so that the same seed always draws the same configurations. */
const prng = (seed: number) => mulberry32(seed >>> 0 || 1);

const key = (c: SearchConfig) => (Object.keys(SEARCH_KNOBS) as Knob[]).map((k) => c[k]).join('/');

/** The configurations to try, base first, at most `n`, no duplicates, deterministic for a seed. */
export function searchCandidates(base: SearchConfig, n: number, seed: number): SearchConfig[] {
  const out: SearchConfig[] = [base];
  const seen = new Set([key(base)]);
  const rand = prng(seed);
  const knobs = Object.keys(SEARCH_KNOBS) as Knob[];
  const space = knobs.reduce((size, k) => size * SEARCH_KNOBS[k].length, 1);
  for (let draws = 0; out.length < n && draws < space * 20; draws++) {
    const next = { ...base };
    for (const k of knobs) {
      const values = SEARCH_KNOBS[k];
      next[k] = values[Math.floor(rand() * values.length)]!;
    }
    if (seen.has(key(next))) continue;
    seen.add(key(next));
    out.push(next);
  }
  return out;
}

export interface SearchTrial {
  readonly config: SearchConfig;
  readonly valPrAuc: number | null;
  /** Epochs trained, and the one whose weights were kept (best validation PR-AUC). */
  readonly epochsRun: number;
  readonly bestEpoch: number;
  readonly seconds: number;
  readonly chosen: boolean;
}
