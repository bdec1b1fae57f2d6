import type { LayersModel } from '@tensorflow/tfjs-node';
import { tf } from './tf';

/** A weight as Keras's `get_weights()` gives it after `.tolist()`: a number or nested lists of them. */
export type KerasArray = number | readonly KerasArray[];

/**
 * Keras weights by layer name, each layer's arrays in `layer.get_weights()` order. That order is also
 * tfjs's `layer.getWeights()` order for every layer of our model (test/model/keras-parity.test.ts checks
 * it against real Keras scores): LSTM kernel [F, 4u], recurrent kernel [u, 4u], bias [4u] with gates
 * i, f, c, o in both; Bidirectional forward weights then backward; BatchNormalization gamma, beta,
 * moving mean, moving variance; Dense kernel [in, out], bias; Embedding [V, d].
 */
export type KerasWeights = Readonly<Record<string, readonly KerasArray[]>>;

/**
 * Sets the weights of `model` from Keras's, matched by layer name. All or nothing: every array is
 * checked against its layer (count and shape) before any weight is set, and every layer of the model
 * that has weights must be given, so a half-loaded model with random layers cannot slip through.
 * Throws a RangeError naming the layer and the array on any mismatch.
 */
export function loadKerasWeights(model: LayersModel, weights: KerasWeights): void {
  const layerNames = new Set(model.layers.map((layer) => layer.name));
  const unknown = Object.keys(weights).filter((name) => !layerNames.has(name));
  if (unknown.length > 0) {
    throw new RangeError(
      `loadKerasWeights: no layer named ${unknown.join(', ')} in model ${model.name} (layers: ${[...layerNames].join(', ')})`,
    );
  }
  const plan: { layer: LayersModel['layers'][number]; values: { data: Float32Array; shape: number[] }[] }[] =
    [];
  for (const layer of model.layers) {
    const expected = layer.weights.map((w) => w.shape);
    if (expected.length === 0) continue;
    const given = weights[layer.name];
    if (given === undefined)
      throw new RangeError(
        `loadKerasWeights: layer ${layer.name} has ${expected.length} weight arrays but none were given`,
      );
    if (given.length !== expected.length) {
      throw new RangeError(
        `loadKerasWeights: layer ${layer.name} has ${expected.length} weight arrays, ${given.length} were given`,
      );
    }
    const values = given.map((array, i) => {
      const where = `layer ${layer.name}, weight ${i} (${layer.weights[i]!.originalName})`;
      const value = flatten(array, where);
      const want = expected[i]!;
      if (value.shape.length !== want.length || value.shape.some((d, k) => d !== want[k])) {
        throw new RangeError(
          `loadKerasWeights: ${where} has shape [${want.join(', ')}], the Keras array has [${value.shape.join(', ')}]`,
        );
      }
      return value;
    });
    plan.push({ layer, values });
  }
  for (const { layer, values } of plan) {
    const tensors = values.map((v) => tf.tensor(v.data, v.shape, 'float32'));
    try {
      layer.setWeights(tensors); // the layer's variables hold their own reference; ours can go
    } finally {
      tf.dispose(tensors);
    }
  }
}

const isList = (value: KerasArray): value is readonly KerasArray[] => Array.isArray(value);

/** Row-major values and the shape of a nested list, which must be rectangular and finite. */
function flatten(array: KerasArray, where: string): { data: Float32Array; shape: number[] } {
  const shape: number[] = [];
  for (let level = array; isList(level) && level.length > 0; level = level[0]!) shape.push(level.length);
  if (isList(array) && shape.length === 0) shape.push(0);
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  let n = 0;
  const walk = (value: KerasArray, depth: number): void => {
    if (!isList(value)) {
      if (depth !== shape.length || !Number.isFinite(value)) {
        throw new RangeError(
          `loadKerasWeights: ${where} holds ${value} at depth ${depth}, expected ${depth === shape.length ? 'a finite number' : 'a list'}`,
        );
      }
      data[n++] = value;
      return;
    }
    if (value.length !== shape[depth]) {
      throw new RangeError(
        `loadKerasWeights: ${where} is not a rectangular array (a list of ${value.length} where ${shape[depth] ?? 'a number'} was expected at depth ${depth})`,
      );
    }
    for (const item of value) walk(item, depth + 1);
  };
  walk(array, 0);
  return { data, shape };
}
