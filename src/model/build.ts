import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-node';
import type { ModelShape } from '../config';
import { tf } from './tf';

export interface DualInputShape extends ModelShape {
  /** Number of numeric features per timestep (the sensors the model was trained on). */
  readonly features: number;
}

export type Branches = 'both' | 'sensors' | 'text';

/**
 * The dual-input model of docs/model.md "Architecture" (the Keras functional-API tutorial, with T > 1):
 *   numeric [T, F] → LSTM(units, dropout .3, recurrentDropout .3) ×PDM_LSTM_LAYERS ┐
 *                                                                 ├ concat → Dense(relu) → BatchNorm → Dense(1, sigmoid)
 *   tokens [L] → Embedding(V, d) → Bidirectional(LSTM(units)) ────┘
 * Layer names are fixed so weights can be matched by name with a Keras twin, and the recurrent activation
 * is Keras's `sigmoid` (tfjs defaults to `hardSigmoid`, which would compute a different function). `branches` trains one
 * side alone (its input is still accepted and ignored), which is how we show the dual input earns its keep.
 */
export function buildDualInputModel(
  shape: DualInputShape,
  branches: Branches = 'both',
  seed?: number,
): LayersModel {
  const init = (offset: number) =>
    seed === undefined ? {} : { kernelInitializer: tf.initializers.glorotUniform({ seed: seed + offset }) };
  const numeric = tf.input({ shape: [shape.window, shape.features], name: 'numeric' });
  const tokens = tf.input({ shape: [shape.textMaxLen], name: 'tokens' });
  const parts: SymbolicTensor[] = [];
  if (branches !== 'text') {
    // Stacked sensor LSTMs (PDM_LSTM_LAYERS): lower layers hand their whole sequence up; names stay
    // sensor_lstm, sensor_lstm_2, … so weights match a Keras twin by name and one layer is the seed's model.
    let x: SymbolicTensor = numeric;
    const layers = shape.lstmLayers ?? 1;
    for (let k = 1; k <= layers; k++) {
      x = tf.layers
        .lstm({
          units: shape.lstmUnits,
          dropout: 0.3,
          recurrentDropout: 0.3,
          recurrentActivation: 'sigmoid',
          returnSequences: k < layers,
          name: k === 1 ? 'sensor_lstm' : `sensor_lstm_${k}`,
          ...init(k === 1 ? 1 : 10 + k),
        })
        .apply(x) as SymbolicTensor;
    }
    parts.push(x);
  }
  if (branches !== 'sensors') {
    const embedded = tf.layers
      .embedding({ inputDim: shape.vocabSize, outputDim: shape.embedDim, name: 'token_embedding' })
      .apply(tokens) as SymbolicTensor;
    parts.push(
      tf.layers
        .bidirectional({
          layer: tf.layers.lstm({ units: shape.textLstmUnits, recurrentActivation: 'sigmoid', ...init(2) }),
          name: 'text_bilstm',
        })
        .apply(embedded) as SymbolicTensor,
    );
  }
  const joined =
    parts.length === 2 ? (tf.layers.concatenate({ name: 'join' }).apply(parts) as SymbolicTensor) : parts[0]!;
  const hidden = tf.layers
    .dense({ units: shape.denseUnits, activation: 'relu', name: 'hidden', ...init(3) })
    .apply(joined) as SymbolicTensor;
  const normed = tf.layers.batchNormalization({ name: 'batchnorm' }).apply(hidden) as SymbolicTensor;
  const out = tf.layers
    .dense({ units: 1, activation: 'sigmoid', name: 'risk', ...init(4) })
    .apply(normed) as SymbolicTensor;
  const model = tf.model({ inputs: [numeric, tokens], outputs: out, name: 'pdm_dual_input' });
  // 'adam' by name (not a tf.train.adam() instance) so that model.dispose() frees the optimizer too.
  model.compile({ optimizer: 'adam', loss: 'binaryCrossentropy' });
  return model;
}
