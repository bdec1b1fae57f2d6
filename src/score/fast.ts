import type { LayersModel, Tensor, Tensor2D, Tensor3D } from '@tensorflow/tfjs-node';
import { compileForward } from '../model/forward';

/**
 * The worker's inference pass over a model's own weights (src/model/forward.ts): each LSTM is one fused
 * TensorFlow kernel on the native backend (a lean step loop elsewhere), dropout is the identity and
 * BatchNormalization uses its moving statistics. tfjs-layers' model.predict runs ~40 small kernels per
 * LSTM step; the outputs are the same (test/score/fast.test.ts, test/model/fused-lstm.test.ts).
 */
export interface FastInference {
  /** Whether the LSTMs run as fused kernels (else the step loop). */
  readonly fused: boolean;
  /** tokens [n, L] (float or int ids) → the text branch's output [n, 2·U]. */
  encodeText(tokens: Tensor2D): Tensor2D;
  /** numeric [n, T, F] and the text encoding → scores [n, 1]. */
  head(numeric: Tensor3D, textEncoding: Tensor2D): Tensor;
}

/** Builds the fast path for a dual-input model built by buildDualInputModel, or undefined when it does not apply. */
export function compileInference(model: LayersModel): FastInference | undefined {
  if (!model.layers.some((l) => l.name === 'join')) return undefined; // the split form needs both branches
  return compileForward(model);
}
