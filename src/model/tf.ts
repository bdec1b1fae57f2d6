/**
 * The one place that loads TensorFlow. The native backend (@tensorflow/tfjs-node) is the goal; when its
 * addon is missing we fall back to the pure-JS CPU backend, loudly, and /model and pdm_model_info name
 * the backend in use so nobody mistakes a 50x slower worker for a healthy one.
 */
import type * as tfTypes from '@tensorflow/tfjs-node';

type Tf = typeof tfTypes;
let loaded: { tf: Tf; backend: string } | undefined;

export function loadTf(): { tf: Tf; backend: string } {
  if (loaded) return loaded;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const tf = require('@tensorflow/tfjs-node') as Tf;
    loaded = { tf, backend: tf.getBackend() };
  } catch (error) {
    process.stderr.write(
      `WARNING: native TensorFlow backend unavailable (${(error as Error).message.split('\n')[0]}); ` +
        `falling back to the pure-JS CPU backend, which is ~50x slower. Run scripts/setup/tensorflow.sh to build it.\n`,
    );
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const tf = require('@tensorflow/tfjs') as Tf;
    loaded = { tf, backend: tf.getBackend() };
  }
  return loaded;
}

export const tf: Tf = loadTf().tf;
export const backendName = (): string => loadTf().tf.getBackend();

interface RnnCellLike {
  dropoutMask?: tfTypes.Tensor | tfTypes.Tensor[] | null;
  recurrentDropoutMask?: tfTypes.Tensor | tfTypes.Tensor[] | null;
}
interface LayerLike {
  cell?: RnnCellLike;
  forwardLayer?: LayerLike;
  backwardLayer?: LayerLike;
}

/**
 * Disposes a model completely. tfjs RNN cells keep their last dropout masks as tensors that
 * `model.dispose()` does not free (about ten per model), so without this every hot swap leaks them.
 */
export function disposeModel(model: { layers: readonly unknown[]; dispose(): unknown }): void {
  const reset = (layer: LayerLike | undefined) => {
    const cell = layer?.cell;
    if (!cell) return;
    if (cell.dropoutMask) loadTf().tf.dispose(cell.dropoutMask);
    if (cell.recurrentDropoutMask) loadTf().tf.dispose(cell.recurrentDropoutMask);
    cell.dropoutMask = null;
    cell.recurrentDropoutMask = null;
  };
  for (const layer of model.layers as LayerLike[]) {
    reset(layer);
    reset(layer.forwardLayer);
    reset(layer.backwardLayer);
  }
  model.dispose();
}
