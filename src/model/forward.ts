import type { LayersModel, Tensor, Tensor2D, Tensor3D, Variable } from '@tensorflow/tfjs-node';
import { fusedLstm, fusedLstmAvailable } from './fused-lstm';
import { tf } from './tf';

/**
 * The dual-input model's forward pass written out over the model's OWN weight variables, so one set of
 * weights serves tfjs-layers (storage, the registry format, Keras parity) and this pass (training and
 * scoring). LSTMs run as fused TensorFlow kernels when the backend has them (src/model/fused-lstm.ts),
 * else as a lean step loop (inference only; training then keeps tfjs-layers' model.fit). Anything this
 * does not recognise (another activation, masking, another merge mode) makes `compileForward` return
 * undefined and callers keep the tfjs-layers path.
 */

interface LayerConfig {
  activation?: string;
  recurrentActivation?: string;
  returnSequences?: boolean;
  goBackwards?: boolean;
  stateful?: boolean;
  useBias?: boolean;
  maskZero?: boolean;
  mergeMode?: string;
  epsilon?: number;
  momentum?: number;
  center?: boolean;
  scale?: boolean;
  dropout?: number;
  recurrentDropout?: number;
  layer?: { config?: LayerConfig };
}

interface Lstm {
  readonly kernel: Tensor2D;
  readonly recurrent: Tensor2D;
  readonly bias: Tensor;
  readonly units: number;
  readonly hardSigmoid: boolean;
  readonly returnSequences: boolean;
  readonly dropout: number;
  readonly recurrentDropout: number;
}

type LayerLike = LayersModel['layers'][number];
const configOf = (layer: LayerLike) => layer.getConfig() as LayerConfig;

function lstmOf(weights: Tensor[], config: LayerConfig): Lstm | undefined {
  const [kernel, recurrent, bias] = weights;
  const recurrentActivation = config.recurrentActivation ?? 'hardSigmoid';
  if (!kernel || !recurrent || !bias || config.useBias === false || config.goBackwards || config.stateful)
    return undefined;
  if (
    (config.activation ?? 'tanh') !== 'tanh' ||
    !['sigmoid', 'hardSigmoid', 'hard_sigmoid'].includes(recurrentActivation)
  )
    return undefined;
  return {
    kernel: kernel as Tensor2D,
    recurrent: recurrent as Tensor2D,
    bias,
    units: recurrent.shape[0],
    hardSigmoid: recurrentActivation !== 'sigmoid',
    returnSequences: config.returnSequences === true,
    dropout: config.dropout ?? 0,
    recurrentDropout: config.recurrentDropout ?? 0,
  };
}

/** The step loop, for inference where the fused kernel cannot run: one input matmul, ~8 kernels a step. */
function steppedLstm(x: Tensor3D, w: Lstm, backwards: boolean): Tensor {
  const [n, t, f] = x.shape;
  const gate = (z: Tensor) =>
    w.hardSigmoid ? tf.clipByValue(tf.add(tf.mul(z, 0.2), 0.5), 0, 1) : tf.sigmoid(z);
  const projected = tf.reshape(tf.add(tf.matMul(tf.reshape(x, [n * t, f]), w.kernel), w.bias), [
    n,
    t,
    4 * w.units,
  ]);
  const steps = tf.unstack(projected, 1);
  if (backwards) steps.reverse();
  let h: Tensor2D = tf.zeros([n, w.units]);
  let c: Tensor2D = tf.zeros([n, w.units]);
  const hs: Tensor2D[] = [];
  for (const step of steps) {
    const [i, fg, g, o] = tf.split<Tensor2D>(tf.add(step, tf.matMul(h, w.recurrent)), 4, 1);
    c = tf.add(tf.mul(gate(fg!), c), tf.mul(gate(i!), tf.tanh(g!)));
    h = tf.mul(gate(o!), tf.tanh(c));
    hs.push(h);
  }
  if (!w.returnSequences) return h;
  if (backwards) hs.reverse();
  return tf.stack(hs, 1);
}

function runLstm(x: Tensor3D, w: Lstm, goBackwards = false): Tensor {
  if (!w.hardSigmoid && fusedLstmAvailable())
    return fusedLstm(x, w.kernel, w.recurrent, w.bias, { goBackwards, returnSequences: w.returnSequences });
  return steppedLstm(x, w, goBackwards);
}

/** Sensor LSTM layers bottom to top: `sensor_lstm`, `sensor_lstm_2`, … (PDM_LSTM_LAYERS). */
export function sensorLstmLayers(model: LayersModel): LayerLike[] {
  const rank = (name: string) =>
    name === 'sensor_lstm' ? 1 : Number(/^sensor_lstm_(\d+)$/.exec(name)?.[1] ?? NaN);
  return model.layers
    .filter((l) => Number.isInteger(rank(l.name)))
    .sort((a, b) => rank(a.name) - rank(b.name));
}

/** Per-sample input-dropout masks for one training batch, constant over time (Keras LSTM semantics). */
export type DropoutMasks = readonly Tensor2D[];

export interface TrainingPass {
  /** The pre-sigmoid output [B, 1]. */
  readonly logits: Tensor;
  /** Batch statistics of the BatchNormalization layer, for its moving averages (kept out of any tidy). */
  readonly batchMean: Tensor;
  readonly batchVariance: Tensor;
}

export interface ModelForward {
  /** Whether every LSTM of the model runs through the fused kernel here. */
  readonly fused: boolean;
  /** Whether the model has a text branch (`encodeText` applies). */
  readonly hasText: boolean;
  /** Input-dropout rate of each sensor LSTM layer (bottom first) and their recurrent-dropout rates. */
  readonly sensorDropout: readonly { dropout: number; recurrentDropout: number; inputSize: number }[];
  /** The weights gradient descent updates (the model's own variables). */
  readonly trainable: readonly Variable[];
  /** tokens [n, L] → the text branch's output [n, 2·U] (inference). */
  encodeText(tokens: Tensor2D): Tensor2D;
  /** numeric [n, T, F] and the text encoding → scores [n, 1] (inference). */
  head(numeric: Tensor3D, textEncoding: Tensor2D | undefined): Tensor;
  /** One training forward: dropout masks applied, BatchNormalization on batch statistics. */
  train(numeric: Tensor3D, tokens: Tensor2D, masks: DropoutMasks): TrainingPass;
  /** Folds a batch's statistics into BatchNormalization's moving mean and variance (as tfjs-layers does). */
  updateBatchNorm(mean: Tensor, variance: Tensor): void;
}

/** Compiles the forward pass of a model built by buildDualInputModel, or undefined when it does not apply. */
export function compileForward(model: LayersModel): ModelForward | undefined {
  const layer = (name: string) => model.layers.find((l) => l.name === name);
  const [embedding, text, hidden, norm, risk, join] = [
    'token_embedding',
    'text_bilstm',
    'hidden',
    'batchnorm',
    'risk',
    'join',
  ].map(layer);
  const sensorLayers = sensorLstmLayers(model);
  if (!hidden || !norm || !risk) return undefined;
  if (sensorLayers.length === 0 && !text) return undefined;
  if ((sensorLayers.length > 0 && text !== undefined) !== (join !== undefined)) return undefined;
  const sensors = sensorLayers.map((l) => lstmOf(l.getWeights(), configOf(l)));
  if (sensors.some((s, i) => !s || s.returnSequences !== i < sensors.length - 1)) return undefined;
  const sensorW = sensors as Lstm[];
  let textW: { table: Tensor2D; forward: Lstm; backward: Lstm } | undefined;
  if (text) {
    const [table] = embedding?.getWeights() ?? [];
    const textCfg = configOf(text);
    const inner = textCfg.layer?.config ?? {};
    const weights = text.getWeights();
    const forward = lstmOf(weights.slice(0, 3), inner);
    const backward = lstmOf(weights.slice(3, 6), inner);
    if (
      !embedding ||
      !table ||
      !forward ||
      !backward ||
      forward.returnSequences ||
      configOf(embedding).maskZero ||
      (textCfg.mergeMode ?? 'concat') !== 'concat'
    )
      return undefined;
    textW = { table: table as Tensor2D, forward, backward };
  }
  const [hiddenK, hiddenB] = hidden.getWeights();
  const [riskK, riskB] = risk.getWeights();
  const normCfg = configOf(norm);
  const [gamma, beta, movingMean, movingVar] = norm.getWeights();
  const ok =
    hiddenK &&
    hiddenB &&
    riskK &&
    riskB &&
    gamma &&
    beta &&
    movingMean &&
    movingVar &&
    normCfg.center !== false &&
    normCfg.scale !== false &&
    configOf(hidden).activation === 'relu' &&
    configOf(risk).activation === 'sigmoid';
  if (!ok) return undefined;
  const eps = normCfg.epsilon ?? 1e-3;
  const momentum = normCfg.momentum ?? 0.99;
  const allLstms = [...sensorW, ...(textW ? [textW.forward, textW.backward] : [])];

  const encodeText = (tokens: Tensor2D): Tensor2D => {
    if (!textW) throw new Error('this model has no text branch');
    const embedded = tf.gather(textW.table, tf.cast(tokens, 'int32')) as unknown as Tensor3D;
    return tf.concat(
      [runLstm(embedded, textW.forward), runLstm(embedded, textW.backward, true)],
      1,
    ) as Tensor2D;
  };
  const sensorBranch = (numeric: Tensor3D, masks?: DropoutMasks): Tensor2D => {
    let x: Tensor = numeric;
    sensorW.forEach((w, i) => {
      const mask = masks?.[i];
      // The mask [B, F] broadcasts over time: the same inputs of a sample are dropped at every step.
      if (mask) x = tf.mul(x, tf.expandDims(mask, 1));
      x = runLstm(x as Tensor3D, w);
    });
    return x as Tensor2D;
  };
  const joined = (numeric: Tensor3D, textEncoding: Tensor2D | undefined, masks?: DropoutMasks): Tensor2D => {
    const parts = [
      ...(sensorW.length > 0 ? [sensorBranch(numeric, masks)] : []),
      ...(textEncoding ? [textEncoding] : []),
    ];
    return parts.length === 1 ? parts[0]! : tf.concat(parts, 1);
  };
  const dense = (x: Tensor2D, k: Tensor, b: Tensor) => tf.add<Tensor2D>(tf.matMul(x, k), b);

  return {
    fused: allLstms.every((w) => !w.hardSigmoid) && fusedLstmAvailable(),
    hasText: textW !== undefined,
    sensorDropout: sensorW.map((w) => ({
      dropout: w.dropout,
      recurrentDropout: w.recurrentDropout,
      inputSize: w.kernel.shape[0],
    })),
    trainable: model.trainableWeights.map((w) => w.read() as Variable),
    encodeText,
    head: (numeric, textEncoding) => {
      const h = tf.relu(dense(joined(numeric, textEncoding), hiddenK, hiddenB));
      const normed = tf.add<Tensor2D>(
        tf.mul(tf.div(tf.sub(h, movingMean), tf.sqrt(tf.add(movingVar, eps))), gamma),
        beta,
      );
      return tf.sigmoid(dense(normed, riskK, riskB));
    },
    train: (numeric, tokens, masks) => {
      const h = tf.relu(
        dense(joined(numeric, textW ? encodeText(tokens) : undefined, masks), hiddenK, hiddenB),
      );
      const { mean, variance } = tf.moments(h, 0);
      const normed = tf.batchNorm(h, mean, variance, beta, gamma, eps) as Tensor2D;
      return { logits: dense(normed, riskK, riskB), batchMean: mean, batchVariance: variance };
    },
    updateBatchNorm: (mean, variance) => {
      tf.tidy(() => {
        for (const [moving, value] of [
          [movingMean, mean],
          [movingVar, variance],
        ] as const) {
          (moving as Variable).assign(tf.sub(moving, tf.mul(tf.sub(moving, value), 1 - momentum)));
        }
      });
    },
  };
}
