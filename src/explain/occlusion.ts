import type { LayersModel, Tensor } from '@tensorflow/tfjs-node';
import { tf } from '../model/tf';
import type { ModelMeta } from '../registry';
import { featurize } from '../score/features';
import { splitFor } from '../score/split';
import type { TimedValues } from '../state';
import type { KerasTokenizer } from '../tokenize';
import { encodeForModel } from '../tokenize';
import { applyCalibration } from '../train/calibrate';
import { channelCount, sensorColumns } from '../features';
import type { ExtraFeatures, WindowContext } from '../features';

/** What an explanation needs from a model version: the network, its metadata (scaler, calibration) and vocabulary. */
export interface ExplainableModel {
  readonly model: LayersModel;
  readonly meta: Pick<
    ModelMeta,
    'version' | 'sensors' | 'scaler' | 'window' | 'textMaxLen' | 'calibration' | 'extraFeatures'
  >;
  readonly tokenizer: KerasTokenizer;
}

/** The raw window the worker scored: its readings (oldest first) and the log words in the lookback (oldest first). */
export interface ExplainInput {
  readonly readings: readonly TimedValues[];
  readonly words: readonly string[];
  /** The extra channels' inputs, as the worker snapshotted them (models trained with PDM_EXTRA_FEATURES). */
  readonly context?: WindowContext | undefined;
  /**
   * The window's served (calibrated) score, when the caller has just scored it through the same path: the
   * base row is then not run again (for an alert with one sensor and no words, that halves the cost).
   */
  readonly servedScore?: number;
}

export interface ExplainOptions {
  /** At most this many extra forward passes (occluded copies of the window), beyond the one for the base score. */
  readonly maxPasses: number;
  /** How many attributions to return, largest drop first. */
  readonly top: number;
}

export interface Attribution {
  readonly kind: 'sensor' | 'word';
  /** The sensor name, or the (lower-cased) log word. */
  readonly name: string;
  /** The served score of the window minus its score with this input occluded: > 0 means the input raised the score. */
  readonly drop: number;
  /** The served score with this input occluded. */
  readonly occludedScore: number;
}

export interface Explanation {
  readonly modelVersion: string;
  /** The window's served (calibrated) score: the caller's `servedScore`, else recomputed here. */
  readonly score: number;
  /** The largest drops first; at most `top` entries. Negative drops (inputs that lowered the score) sort last. */
  readonly attributions: readonly Attribution[];
  /** Extra forward passes run (one row each, in a single batched call): min(candidates, maxPasses). */
  readonly passes: number;
  /** Occlusion candidates in the window: every sensor, and each distinct word whose id reaches the model. */
  readonly candidates: number;
  /** Candidates not evaluated because of maxPasses (the oldest words go first). */
  readonly skipped: number;
  /** Wall time of the whole explanation, milliseconds (the cost to bound). */
  readonly millis: number;
}

interface Candidate {
  readonly kind: 'sensor' | 'word';
  readonly name: string;
  readonly numeric: Float32Array;
  readonly tokens: Int32Array;
}

/**
 * Attributes one window's score to its inputs by occlusion: each sensor channel is replaced by its training
 * mean over the whole window (0 after scaling, the same value an imputed sensor gets), each distinct log word
 * is removed from the window's words (all its occurrences; the text is then re-padded, so an older word may
 * slide into the kept tail exactly as it would have without that word), and the window is rescored. The
 * answer is in the model's own terms: an input the network ignores gets a drop of 0, whatever its z-score.
 *
 * Cost: one batched forward pass over 1 + min(candidates, maxPasses) rows; the text branch runs once per
 * distinct token sequence (the base and each word candidate), the sensor branch and head once per row. Sensors come first, then words
 * from the most recent (the ones the pre-truncated text keeps longest). Words the vocabulary drops (no id
 * and no OOV token) never reach the model and are not candidates. Pure apart from the TensorFlow call;
 * every tensor is freed before it returns.
 */
export function explainWindow(
  loaded: ExplainableModel,
  input: ExplainInput,
  options: ExplainOptions,
): Explanation {
  return explainWindows(loaded, [input], options)[0]!;
}

/**
 * `explainWindow` for several windows of one model version, in one batched forward pass over all their rows:
 * each window's result equals its own `explainWindow`. Why: a forward pass costs mostly its fixed per-call
 * overhead at these sizes, so a batch that raises many alerts (a fleet-wide event, a replay) pays it once
 * instead of once per alert. `millis` is then each window's share of the whole call.
 */
export function explainWindows(
  loaded: ExplainableModel,
  inputs: readonly ExplainInput[],
  options: ExplainOptions,
): Explanation[] {
  if (inputs.length === 0) return [];
  const started = process.hrtime.bigint();
  const { meta, tokenizer } = loaded;
  const spec = {
    sensors: meta.sensors,
    scaler: meta.scaler,
    window: meta.window,
    textMaxLen: meta.textMaxLen,
    tokenizer,
    extraFeatures: meta.extraFeatures,
  };
  const maxPasses = Math.max(0, Math.floor(options.maxPasses));
  const plans = inputs.map((input) => {
    const base = featurize(input.readings, input.words, spec, input.context);
    const all = [
      ...sensorCandidates(base.numeric, meta.sensors, meta.extraFeatures),
      ...wordCandidates(base.numeric, base.tokens, input.words, loaded),
    ];
    return { base, served: input.servedScore, candidates: all.length, chosen: all.slice(0, maxPasses) };
  });
  const rows = plans.flatMap(({ base, served, chosen }) => [
    ...(served === undefined ? [{ numeric: base.numeric, tokens: base.tokens }] : []),
    // a sensor candidate's empty tokens mean "the window's base tokens"
    ...chosen.map((c) => ({ numeric: c.numeric, tokens: c.tokens.length ? c.tokens : base.tokens })),
  ]);
  const f = channelCount(meta.sensors.length, meta.extraFeatures);
  const scores = predictRows(loaded.model, rows, meta.window, f, meta.textMaxLen).map((raw) =>
    applyCalibration(meta.calibration, raw),
  );
  const millis = Number(process.hrtime.bigint() - started) / 1e6 / inputs.length;
  let at = 0;
  return plans.map(({ served, chosen, candidates }) => {
    const score = served ?? scores[at] ?? Number.NaN;
    const first = served === undefined ? at + 1 : at;
    at = first + chosen.length;
    const attributions = chosen
      .map((c, i) => {
        const occludedScore = scores[first + i] ?? Number.NaN;
        return { kind: c.kind, name: c.name, drop: score - occludedScore, occludedScore };
      })
      .sort((a, b) => b.drop - a.drop)
      .slice(0, Math.max(0, options.top));
    return {
      modelVersion: meta.version,
      score,
      attributions,
      passes: chosen.length,
      candidates,
      skipped: candidates - chosen.length,
      millis,
    };
  });
}

/** A sensor at its training mean throughout the window: its value channel and (with deltas) its delta are 0. */
function sensorCandidates(
  numeric: Float32Array,
  sensors: readonly string[],
  extras: ExtraFeatures | undefined,
): Candidate[] {
  const f = channelCount(sensors.length, extras);
  return sensors.map((name, col) => {
    const occluded = numeric.slice();
    for (const c of sensorColumns(col, sensors.length, extras))
      for (let i = c; i < occluded.length; i += f) occluded[i] = 0; // the training mean, scaled
    return { kind: 'sensor', name, numeric: occluded, tokens: new Int32Array(0) };
  });
}

function wordCandidates(
  numeric: Float32Array,
  tokens: Int32Array,
  words: readonly string[],
  loaded: ExplainableModel,
): Candidate[] {
  const present = new Set(tokens);
  const lower = words.map((w) => w.toLowerCase());
  const seen = new Set<string>();
  const out: Candidate[] = [];
  for (let i = lower.length - 1; i >= 0; i--) {
    const word = lower[i]!;
    if (seen.has(word)) continue;
    seen.add(word);
    const id = loaded.tokenizer.wordsToSequence([word])[0];
    if (id === undefined || !present.has(id)) continue; // dropped by the vocabulary, or truncated away
    const kept = lower.filter((w) => w !== word);
    out.push({
      kind: 'word',
      name: word,
      numeric,
      tokens: encodeForModel(loaded.tokenizer, kept, loaded.meta.textMaxLen),
    });
  }
  return out;
}

/**
 * One batched call over all rows, through the same
 * path the worker scores with (the split model: fused kernels, cached text encodings), so the base score is
 * the served one and sensor occlusions reuse the window's text encoding.
 */
function predictRows(
  model: LayersModel,
  rows: readonly { numeric: Float32Array; tokens: Int32Array }[],
  window: number,
  f: number,
  textMaxLen: number,
): number[] {
  const n = rows.length;
  const numeric = new Float32Array(n * window * f);
  const tokens = new Int32Array(n * textMaxLen);
  rows.forEach((row, i) => {
    numeric.set(row.numeric, i * window * f);
    tokens.set(row.tokens, i * textMaxLen);
  });
  return tf.tidy(() => {
    const split = splitFor(model);
    if (split) return Array.from(split.predict(numeric, tokens, n, window, f, textMaxLen));
    const out = model.predict([
      tf.tensor3d(numeric, [n, window, f]),
      tf.tensor2d(tokens, [n, textMaxLen], 'int32').toFloat(),
    ]) as Tensor;
    return Array.from(out.dataSync());
  });
}
