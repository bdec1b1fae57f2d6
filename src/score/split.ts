import type { LayersModel, SymbolicTensor, Tensor } from '@tensorflow/tfjs-node';
import { sensorLstmLayers } from '../model/forward';
import { disposeModel, tf } from '../model/tf';
import { compileInference } from './fast';
import type { FastInference } from './fast';

/**
 * The dual-input model split in two, sharing its weights: the text encoder (Embedding + BiLSTM, about
 * 80% of the compute at L=50) and the head (sensor LSTM + join + dense layers). A machine's token
 * sequence changes only when a log arrives or ages out of the lookback, so most windows repeat the
 * previous encoding: it is computed once per distinct sequence and kept in a bounded cache per model.
 * Same layers, same weights, same arithmetic: the scores equal the whole model's.
 */
export class SplitModel {
  private readonly cache = new Map<string, Float32Array>();
  private readonly encodingSize: number;

  private constructor(
    private readonly textEncoder: LayersModel,
    private readonly head: LayersModel,
    private readonly maxCached: number,
    /** The kernel-lean forward pass over the same weights, when the model's layers allow it. */
    private readonly fast: FastInference | undefined,
  ) {
    this.encodingSize = textEncoder.outputs[0]!.shape[1] as number;
  }

  /** Splits a dual-input model built by buildDualInputModel; undefined for single-branch models. */
  static from(model: LayersModel, maxCached = 20_000): SplitModel | undefined {
    const names = new Set(model.layers.map((l) => l.name));
    if (!['sensor_lstm', 'text_bilstm', 'join', 'hidden', 'batchnorm', 'risk'].every((n) => names.has(n)))
      return undefined;
    const [numericIn, tokensIn] = model.inputs;
    const textOut = model.getLayer('text_bilstm').output as SymbolicTensor;
    const textEncoder = tf.model({ inputs: tokensIn!, outputs: textOut });
    const encoding = tf.input({ shape: [textOut.shape[1] as number] });
    const numeric = tf.input({ shape: numericIn!.shape.slice(1) });
    const sensors = sensorLstmLayers(model).reduce<SymbolicTensor>(
      (x, layer) => layer.apply(x) as SymbolicTensor,
      numeric,
    );
    const joined = model.getLayer('join').apply([sensors, encoding]) as SymbolicTensor;
    const out = model
      .getLayer('risk')
      .apply(model.getLayer('batchnorm').apply(model.getLayer('hidden').apply(joined))) as SymbolicTensor;
    return new SplitModel(
      textEncoder,
      tf.model({ inputs: [numeric, encoding], outputs: out }),
      maxCached,
      compileInference(model),
    );
  }

  /** Frees what the sub-models hold beyond the whole model; call after disposeModel(whole). */
  dispose(): void {
    this.cache.clear();
    for (const m of [this.head, this.textEncoder]) {
      try {
        m.dispose();
      } catch {
        // layers already disposed through the whole model or the other sub-model
      }
    }
  }

  /** Scores n windows: numeric is n×T×F row-major, tokens n×L. Must run inside tf.tidy. */
  predict(
    numeric: Float32Array,
    tokens: Int32Array,
    n: number,
    window: number,
    features: number,
    textMaxLen: number,
  ): Float32Array {
    const keys: string[] = [];
    const missing = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const row = tokens.subarray(i * textMaxLen, (i + 1) * textMaxLen);
      const key = row.join(',');
      keys.push(key);
      if (!this.cache.has(key) && !missing.has(key)) missing.set(key, i);
    }
    if (missing.size > 0) {
      const rows = [...missing.values()];
      const batch = new Int32Array(rows.length * textMaxLen);
      rows.forEach((r, j) =>
        batch.set(tokens.subarray(r * textMaxLen, (r + 1) * textMaxLen), j * textMaxLen),
      );
      const input = tf.tensor2d(batch, [rows.length, textMaxLen], 'int32').toFloat();
      const encoded = (
        this.fast ? this.fast.encodeText(input) : (this.textEncoder.predict(input) as Tensor)
      ).dataSync() as Float32Array;
      [...missing.keys()].forEach((key, j) => {
        if (this.cache.size >= this.maxCached) this.cache.delete(this.cache.keys().next().value as string);
        this.cache.set(key, encoded.slice(j * this.encodingSize, (j + 1) * this.encodingSize));
      });
    }
    const enc = new Float32Array(n * this.encodingSize);
    keys.forEach((key, i) => enc.set(this.cache.get(key)!, i * this.encodingSize));
    const inputs = [
      tf.tensor3d(numeric, [n, window, features]),
      tf.tensor2d(enc, [n, this.encodingSize]),
    ] as const;
    const out = this.fast ? this.fast.head(inputs[0], inputs[1]) : (this.head.predict([...inputs]) as Tensor);
    return out.dataSync() as Float32Array;
  }
}

const splits = new WeakMap<LayersModel, SplitModel | null>();

/** The split form of a serving model, built on first use; undefined for single-branch models. */
export function splitFor(model: LayersModel): SplitModel | undefined {
  if (!splits.has(model)) splits.set(model, SplitModel.from(model) ?? null);
  return splits.get(model) ?? undefined;
}

/** Disposes a serving model and its split form: no tensor survives a hot swap. */
export function disposeScoringModel(model: LayersModel): void {
  disposeModel(model);
  splits.get(model)?.dispose();
  splits.delete(model);
}
