import type { LayersModel, Tensor, Tensor2D, Tensor3D } from '@tensorflow/tfjs-node';
import { tf } from '../model/tf';

/**
 * An inference-only forward pass of the dual-input model, using the model's own weight tensors.
 * Why: tfjs-layers runs an LSTM step as ~40 small kernels (separate gate matmuls, dropout-mask products
 * even at inference); here the input projection of all timesteps is one matmul and a step is ~8 kernels.
 * Measured on this machine: ~6x the windows/s of model.predict for the 24-step LSTM, identical outputs.
 * Dropout is the identity at inference, so it is simply absent. Anything this does not recognise
 * (another activation, return sequences, masking) makes `compileInference` return undefined and the
 * caller keeps using model.predict.
 */
interface LstmWeights {
  readonly kernel: Tensor2D;
  readonly recurrent: Tensor2D;
  readonly bias: Tensor;
  readonly units: number;
  readonly hardSigmoid: boolean;
}

interface LayerConfig {
  activation?: string;
  recurrentActivation?: string;
  returnSequences?: boolean;
  useBias?: boolean;
  maskZero?: boolean;
  mergeMode?: string;
  epsilon?: number;
  center?: boolean;
  scale?: boolean;
  units?: number;
  layer?: { config?: LayerConfig };
}

function lstmWeights(weights: Tensor[], config: LayerConfig): LstmWeights | undefined {
  const [kernel, recurrent, bias] = weights;
  const recurrentActivation = config.recurrentActivation ?? 'hardSigmoid';
  if (!kernel || !recurrent || !bias || config.returnSequences || config.useBias === false) return undefined;
  if ((config.activation ?? 'tanh') !== 'tanh' || !['sigmoid', 'hardSigmoid', 'hard_sigmoid'].includes(recurrentActivation)) return undefined;
  return { kernel: kernel as Tensor2D, recurrent: recurrent as Tensor2D, bias, units: recurrent.shape[0], hardSigmoid: recurrentActivation !== 'sigmoid' };
}

/** The final hidden state of an LSTM over x [n, T, F]; `backwards` reads the sequence from the end (go_backwards). */
function runLstm(x: Tensor3D, w: LstmWeights, backwards = false): Tensor2D {
  const [n, t, f] = x.shape;
  const gate = (z: Tensor) => (w.hardSigmoid ? tf.clipByValue(tf.add(tf.mul(z, 0.2), 0.5), 0, 1) : tf.sigmoid(z));
  const projected = tf.reshape(tf.add(tf.matMul(tf.reshape(x, [n * t, f]), w.kernel), w.bias), [n, t, 4 * w.units]);
  const steps = tf.unstack(projected, 1);
  if (backwards) steps.reverse();
  let h: Tensor2D = tf.zeros([n, w.units]);
  let c: Tensor2D = tf.zeros([n, w.units]);
  for (const step of steps) {
    const [i, fg, g, o] = tf.split<Tensor2D>(tf.add(step, tf.matMul(h, w.recurrent)), 4, 1);
    c = tf.add(tf.mul(gate(fg!), c), tf.mul(gate(i!), tf.tanh(g!)));
    h = tf.mul(gate(o!), tf.tanh(c));
  }
  return h;
}

export interface FastInference {
  /** tokens [n, L] (float or int ids) → the text branch's output [n, 2·U]. */
  encodeText(tokens: Tensor2D): Tensor2D;
  /** numeric [n, T, F] and the text encoding → scores [n, 1]. */
  head(numeric: Tensor3D, textEncoding: Tensor2D): Tensor;
}

/** Builds the fast path for a model built by buildDualInputModel, or undefined when it does not apply. */
export function compileInference(model: LayersModel): FastInference | undefined {
  const layer = (name: string) => model.layers.find((l) => l.name === name);
  const [sensor, embedding, text, hidden, norm, risk] = ['sensor_lstm', 'token_embedding', 'text_bilstm', 'hidden', 'batchnorm', 'risk'].map(layer);
  if (!sensor || !embedding || !text || !hidden || !norm || !risk || !layer('join')) return undefined;
  const cfg = (l: { getConfig(): unknown }) => l.getConfig() as LayerConfig;
  const sensorW = lstmWeights(sensor.getWeights(), cfg(sensor));
  const textW = text.getWeights();
  const textCfg = cfg(text);
  const innerCfg = textCfg.layer?.config ?? {};
  const forward = lstmWeights(textW.slice(0, 3), innerCfg);
  const backward = lstmWeights(textW.slice(3, 6), innerCfg);
  const [table] = embedding.getWeights();
  const [hiddenK, hiddenB] = hidden.getWeights();
  const normCfg = cfg(norm);
  const [gamma, beta, movingMean, movingVar] = norm.getWeights();
  const [riskK, riskB] = risk.getWeights();
  const ok =
    sensorW && forward && backward && table && hiddenK && hiddenB && riskK && riskB && gamma && beta && movingMean && movingVar &&
    !cfg(embedding).maskZero && (textCfg.mergeMode ?? 'concat') === 'concat' && normCfg.center !== false && normCfg.scale !== false &&
    cfg(hidden).activation === 'relu' && cfg(risk).activation === 'sigmoid';
  if (!ok) return undefined;
  const eps = normCfg.epsilon ?? 1e-3;
  return {
    encodeText: (tokens) => {
      const embedded = tf.gather(table, tf.cast(tokens, 'int32')) as Tensor3D;
      return tf.concat([runLstm(embedded, forward), runLstm(embedded, backward, true)], 1);
    },
    head: (numeric, textEncoding) => {
      const joined = tf.concat([runLstm(numeric, sensorW), textEncoding], 1);
      const h = tf.relu(tf.add(tf.matMul(joined, hiddenK as Tensor2D), hiddenB));
      const normed = tf.add(tf.mul(tf.div(tf.sub(h, movingMean), tf.sqrt(tf.add(movingVar, eps))), gamma), beta);
      return tf.sigmoid(tf.add(tf.matMul(normed as Tensor2D, riskK as Tensor2D), riskB));
    },
  };
}
