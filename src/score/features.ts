import type { KerasTokenizer } from '../tokenize';
import { encodeForModel } from '../tokenize';
import type { TimedValues } from '../state';
import { channelCount, fillExtraChannels } from '../features';
import type { ExtraFeatures, WindowContext } from '../features';

/** What featurising needs from a model version: its sensor order, scaler and vocabulary. */
export interface FeatureSpec {
  readonly sensors: readonly string[];
  readonly scaler: { readonly mean: readonly number[]; readonly std: readonly number[] };
  readonly window: number;
  readonly textMaxLen: number;
  readonly tokenizer: KerasTokenizer;
  /** Extra sensor-branch channels the model was trained with (PDM_EXTRA_FEATURES); absent: sensors only. */
  readonly extraFeatures?: ExtraFeatures | undefined;
}

export interface Features {
  /** window × channels (the sensors, standard-scaled, then any extra channels), row-major. */
  readonly numeric: Float32Array;
  /** textMaxLen token ids, pre-padded. */
  readonly tokens: Int32Array;
  /** Sensors missing from some reading of the window, imputed with the training mean. */
  readonly imputed: readonly string[];
}

/**
 * Turns the raw window (readings + log words) into model inputs with a given model's scaler and vocabulary.
 * Raw values are kept in state and scaled here, so a model swap with another scaler needs no state change.
 * A missing sensor becomes the training mean (0 after scaling); the values were validated finite upstream.
 * Training (src/train/fit.ts) and the worker both call this, so a model sees the same features in both; the
 * extra channels read `context` (the machine's first reading and newest log), which each side supplies.
 */
export function featurize(
  readings: readonly TimedValues[],
  words: readonly string[],
  spec: FeatureSpec,
  context?: WindowContext,
): Features {
  const f = channelCount(spec.sensors.length, spec.extraFeatures);
  const numeric = new Float32Array(spec.window * f);
  let imputed: Set<string> | undefined; // made only when a sensor is missing (rare; this runs per window)
  const offset = spec.window - readings.length; // fewer readings than the window only in training edge cases
  const { sensors, scaler } = spec;
  for (let row = 0; row < readings.length; row++) {
    const values = readings[row]!.values;
    const base = (row + offset) * f;
    for (let col = 0; col < sensors.length; col++) {
      const sensor = sensors[col]!;
      // Own properties only: a sensor named like an Object.prototype member (`toString`) must read as absent.
      const value = Object.hasOwn(values, sensor) ? values[sensor] : undefined;
      const std = scaler.std[col] ?? 1;
      if (value === undefined) (imputed ??= new Set()).add(sensor);
      else numeric[base + col] = (value - (scaler.mean[col] ?? 0)) / (std > 0 ? std : 1);
    }
  }
  const last = readings[readings.length - 1];
  if (spec.extraFeatures && last) {
    const rows = { window: spec.window, offset, sensors: spec.sensors.length, endTs: last.ts };
    fillExtraChannels(numeric, rows, spec.extraFeatures, context);
  }
  return {
    numeric,
    tokens: encodeForModel(spec.tokenizer, words, spec.textMaxLen),
    imputed: imputed ? [...imputed] : [],
  };
}
