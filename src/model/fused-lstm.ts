import type { Rank, Tensor, Tensor2D, Tensor3D } from '@tensorflow/tfjs-node';
import { tf } from './tf';

/**
 * An LSTM layer as ONE TensorFlow kernel per direction: `BlockLSTMV2` forward, `BlockLSTMGradV2` backward
 * (through tf.customGrad), executed by name on tfjs-node's native backend the way its own kernels are.
 * Why: tfjs-layers runs an LSTM step as ~40 small kernels, and a training step also records each of them
 * on the gradient tape; the fused kernel does the whole sequence (and its gradient) in one call.
 *
 * The op's layout is Keras's: w = kernel stacked over recurrent kernel [F+H, 4H], gates i, f, c, o,
 * no forget bias added, recurrent activation sigmoid, cell activation tanh. So a tfjs-layers/Keras LSTM
 * with those activations computes the same function (test/model/fused-lstm.test.ts). A hard-sigmoid LSTM
 * cannot run here: callers check `recurrentActivation` first.
 */

interface OpAttr {
  name: string;
  type: number;
  value: number | boolean;
}
interface Binding {
  readonly TF_ATTR_TYPE: number;
  readonly TF_ATTR_FLOAT: number;
  readonly TF_ATTR_BOOL: number;
  readonly TF_FLOAT: number;
  readonly TF_INT32: number;
  readonly TF_INT64: number;
}
/** The part of tfjs-node's NodeJSKernelBackend this module uses (public methods of that class). */
interface NativeBackend {
  readonly binding: Binding;
  executeSingleOutput(name: string, attrs: OpAttr[], inputs: Tensor[]): Tensor;
  executeMultipleOutputs(name: string, attrs: OpAttr[], inputs: Tensor[], numOutputs: number): Tensor[];
}

export class FusedLstmShapeError extends RangeError {
  readonly code = 'fused_lstm_shape';
  readonly retriable = false;
}

function nativeBackend(): NativeBackend | undefined {
  if (tf.getBackend() !== 'tensorflow') return undefined;
  const backend = tf.backend() as unknown as Partial<NativeBackend>;
  return typeof backend.executeMultipleOutputs === 'function' && backend.binding
    ? (backend as NativeBackend)
    : undefined;
}

let probed: boolean | undefined;

/**
 * Whether this process can run the fused kernels: the native backend is active and its libtensorflow
 * has BlockLSTMV2 and BlockLSTMGradV2 (checked once by running both on a 1×1×1 sequence).
 */
export function fusedLstmAvailable(): boolean {
  if (!nativeBackend()) return false; // asked again each time: a bench switches backends in one process
  if (probed !== undefined) return probed;
  try {
    tf.tidy(() => {
      const kernel = tf.ones<Rank.R2>([2, 8]);
      const bias = tf.zeros([8]);
      tf.grad((x: Tensor) => tf.sum(fusedLstm(x as Tensor3D, kernel, kernel, bias, {})))(
        tf.ones([2, 1, 2]),
      ).dataSync();
    });
    probed = true;
  } catch {
    probed = false;
  }
  return probed;
}

/**
 * seq_len_max is an int64 scalar, which tfjs cannot create: TensorFlow's Cast makes one, as an ordinary
 * tracked tensor (tidy frees it). tfjs-node's own Int64Scalar would leave a native handle behind per call.
 */
function seqLen(backend: NativeBackend, steps: number): Tensor {
  const b = backend.binding;
  const attrs = [
    { name: 'SrcT', type: b.TF_ATTR_TYPE, value: b.TF_INT32 },
    { name: 'DstT', type: b.TF_ATTR_TYPE, value: b.TF_INT64 },
    { name: 'Truncate', type: b.TF_ATTR_BOOL, value: false },
  ];
  const int32 = tf.scalar(steps, 'int32');
  // tfjs-node warns on every int64 output ("stored as BigInt64Array"); this one never reaches JS memory.
  const warn = console.warn;
  console.warn = () => undefined;
  try {
    return backend.executeSingleOutput('Cast', attrs, [int32]);
  } finally {
    console.warn = warn;
    int32.dispose();
  }
}

export interface FusedLstmOptions {
  /** Read the sequence from its end (Keras go_backwards, the backward half of a Bidirectional). */
  readonly goBackwards?: boolean;
  /** Every step's h [B, T, H] instead of the last one [B, H] (a lower layer of a stacked LSTM). */
  readonly returnSequences?: boolean;
}

/**
 * One LSTM layer over x [B, T, F] with zero initial state; differentiable with respect to x, kernel
 * [F, 4H], recurrent kernel [H, 4H] and bias [4H]. An empty batch or sequence never reaches the op:
 * it is refused with a FusedLstmShapeError naming the shape.
 */
export function fusedLstm(
  x: Tensor3D,
  kernel: Tensor2D,
  recurrent: Tensor2D,
  bias: Tensor,
  opts: FusedLstmOptions,
): Tensor {
  const backend = nativeBackend();
  if (!backend)
    throw new Error('fusedLstm needs the native TensorFlow backend (check fusedLstmAvailable() first)');
  const [batch, steps, features] = x.shape;
  const units = recurrent.shape[0];
  if (batch === 0 || steps === 0 || features === 0) {
    throw new FusedLstmShapeError(
      `fused LSTM input has shape [${x.shape.join(', ')}] (batch, steps, features): every dimension must be at least 1`,
    );
  }
  if (
    kernel.shape[0] !== features ||
    kernel.shape[1] !== 4 * units ||
    recurrent.shape[1] !== 4 * units ||
    bias.shape[0] !== 4 * units
  ) {
    throw new FusedLstmShapeError(
      `fused LSTM weights [${kernel.shape.join(', ')}], [${recurrent.shape.join(', ')}], [${bias.shape.join(', ')}] do not fit input [${x.shape.join(', ')}] and ${units} units`,
    );
  }
  const b = backend.binding;
  const type = { name: 'T', type: b.TF_ATTR_TYPE, value: b.TF_FLOAT };
  const forwardAttrs = [
    { name: 'cell_clip', type: b.TF_ATTR_FLOAT, value: 0 },
    { name: 'use_peephole', type: b.TF_ATTR_BOOL, value: false },
    type,
  ];
  const gradAttrs = [{ name: 'use_peephole', type: b.TF_ATTR_BOOL, value: false }, type];
  // TensorFlow logs a warning on EVERY call whose batch is odd while the input or cell size is odd too
  // (a worker scoring 25 sensors in odd batches would flood stderr): such a batch gets one zero row,
  // whose outputs are dropped and whose gradients are zero.
  const rows = batch % 2 === 1 && (features % 2 === 1 || units % 2 === 1) ? batch + 1 : batch;
  const padBatch = (t: Tensor) =>
    rows === batch
      ? t
      : tf.pad(t, [
          [0, 0],
          [0, rows - batch],
          [0, 0],
        ]);
  const op = tf.customGrad((...args) => {
    const [xIn, k, r, bi, save] = args as unknown as [
      Tensor3D,
      Tensor2D,
      Tensor2D,
      Tensor,
      (ts: Tensor[]) => void,
    ];
    let timeMajor = padBatch(tf.transpose(xIn, [1, 0, 2]));
    if (opts.goBackwards) timeMajor = tf.reverse(timeMajor, 0);
    const w = tf.concat([k, r], 0);
    const state = tf.zeros([rows, units]);
    const peephole = tf.zeros([units]);
    const inputs = [seqLen(backend, steps), timeMajor, state, state, w, peephole, peephole, peephole, bi];
    const outs = backend.executeMultipleOutputs('BlockLSTMV2', forwardAttrs, inputs, 7); // i, cs, f, o, ci, co, h
    save([timeMajor, state, w, peephole, bi, ...outs]);
    const h = rows === batch ? outs[6]! : tf.slice(outs[6]!, [0, 0, 0], [steps, batch, units]);
    const value = opts.returnSequences
      ? tf.transpose(opts.goBackwards ? tf.reverse(h, 0) : h, [1, 0, 2])
      : tf.squeeze(tf.slice(h, [steps - 1, 0, 0], [1, batch, units]), [0]);
    return {
      value,
      gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => {
        const [tm, st, ww, ph, bb, ...fwd] = saved as [Tensor, Tensor, Tensor, Tensor, Tensor, ...Tensor[]];
        const dyT = dy as Tensor;
        let hGrad: Tensor;
        if (opts.returnSequences) {
          hGrad = padBatch(tf.transpose(dyT, [1, 0, 2]));
          if (opts.goBackwards) hGrad = tf.reverse(hGrad, 0);
        } else {
          hGrad = padBatch(tf.concat([tf.zeros([steps - 1, batch, units]), tf.expandDims(dyT, 0)], 0));
        }
        const grads = backend.executeMultipleOutputs(
          'BlockLSTMGradV2',
          gradAttrs,
          [seqLen(backend, steps), tm, st, st, ww, ph, ph, ph, bb, ...fwd, tf.zerosLike(hGrad), hGrad],
          8,
        );
        // x_grad, cs_prev_grad, h_prev_grad, w_grad, wci_grad, wcf_grad, wco_grad, b_grad
        let dx = rows === batch ? grads[0]! : tf.slice(grads[0]!, [0, 0, 0], [steps, batch, features]);
        if (opts.goBackwards) dx = tf.reverse(dx, 0);
        const dw = grads[3]!;
        return [
          tf.transpose(dx, [1, 0, 2]),
          tf.slice(dw, [0, 0], [features, 4 * units]),
          tf.slice(dw, [features, 0], [units, 4 * units]),
          grads[7]!,
        ];
      },
    };
  });
  return op(x, kernel, recurrent, bias);
}
