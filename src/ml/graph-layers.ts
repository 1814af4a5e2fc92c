/**
 * A folded graph (plus optional multi-scale pooling and a dense head) as a standard TensorFlow.js
 * functional LayersModel: images in, probabilities out. This is how fine-tune-backbone saves the
 * whole network it trained, loadable with `tf.loadLayersModel` anywhere. Layers are plain Keras
 * ones: Conv2D/DepthwiseConv2D with bias, ReLU (max_value 6 for ReLU6), ZeroPadding2D for
 * explicit padding, BatchNormalization (unit variance, zero mean) for a leftover affine map.
 */
import type { LayersModel, SymbolicTensor, Tensor } from '@tensorflow/tfjs';
import type { TF } from './backend.js';
import type { DenseHead } from './dense-head.js';
import type { Act, Graph, Padding } from './graph.js';

/** Build the model: trunk up to `graph.output`, GAP of `pooled` maps joined before it, then `head`. */
export function graphToLayersModel(tf: TF, graph: Graph, pooled: string[], head: DenseHead | undefined): LayersModel {
  const used = new Set<string>();
  const name = (id: string, suffix = ''): string => {
    let base = (id + suffix).replace(/[^A-Za-z0-9_]/g, '_');
    while (used.has(base)) base += '_';
    used.add(base);
    return base;
  };
  const values = new Map<string, SymbolicTensor>();
  let input: SymbolicTensor | undefined;
  const act = (x: SymbolicTensor, a: Act, id: string): SymbolicTensor =>
    a === 'linear'
      ? x
      : (tf.layers
          .reLU({ maxValue: a === 'relu6' ? 6 : undefined, name: name(id, '_act') })
          .apply(x) as SymbolicTensor);
  const padded = (x: SymbolicTensor, p: Padding, id: string): { x: SymbolicTensor; padding: 'same' | 'valid' } => {
    if (typeof p === 'string') return { x, padding: p };
    return {
      x: tf.layers.zeroPadding2d({ padding: p, name: name(id, '_pad') }).apply(x) as SymbolicTensor,
      padding: 'valid',
    };
  };
  const t = (v: Float32Array, shape: number[]): Tensor => tf.tensor(v, shape);

  for (const n of graph.nodes) {
    const xs = n.inputs.map((i) => values.get(i)!);
    const x = xs[0]!;
    let y: SymbolicTensor;
    switch (n.op) {
      case 'input':
        input = tf.input({ shape: n.shape, name: name(n.id) });
        y = input;
        break;
      case 'conv': {
        const p = padded(x, n.padding, n.id);
        const layer = tf.layers.conv2d({
          filters: n.kshape[3],
          kernelSize: [n.kshape[0], n.kshape[1]],
          strides: n.strides,
          padding: p.padding,
          useBias: true,
          name: name(n.id),
          weights: [t(n.kernel, n.kshape), t(n.bias, [n.bias.length])],
        });
        y = act(layer.apply(p.x) as SymbolicTensor, n.act, n.id);
        break;
      }
      case 'dwconv': {
        const p = padded(x, n.padding, n.id);
        const layer = tf.layers.depthwiseConv2d({
          kernelSize: [n.kshape[0], n.kshape[1]],
          strides: n.strides,
          padding: p.padding,
          depthMultiplier: 1,
          useBias: true,
          name: name(n.id),
          weights: [t(n.kernel, n.kshape), t(n.bias, [n.bias.length])],
        });
        y = act(layer.apply(p.x) as SymbolicTensor, n.act, n.id);
        break;
      }
      case 'pad':
        y = tf.layers.zeroPadding2d({ padding: n.pads, name: name(n.id) }).apply(x) as SymbolicTensor;
        break;
      case 'add':
        y = act(tf.layers.add({ name: name(n.id) }).apply(xs) as SymbolicTensor, n.act, n.id);
        break;
      case 'concat':
        y = tf.layers.concatenate({ axis: -1, name: name(n.id) }).apply(xs) as SymbolicTensor;
        break;
      case 'avgpool':
      case 'maxpool': {
        const args = { poolSize: n.size, strides: n.strides, padding: n.padding, name: name(n.id) };
        y = (n.op === 'avgpool' ? tf.layers.averagePooling2d(args) : tf.layers.maxPooling2d(args)).apply(
          x,
        ) as SymbolicTensor;
        break;
      }
      case 'gap':
        y = tf.layers.globalAveragePooling2d({ name: name(n.id) }).apply(x) as SymbolicTensor;
        break;
      case 'affine': {
        // (x - 0) / sqrt((1 - eps) + eps) * scale + shift = x * scale + shift
        const eps = 1e-3;
        const c = n.scale.length;
        const layer = tf.layers.batchNormalization({
          epsilon: eps,
          name: name(n.id),
          weights: [t(n.scale, [c]), t(n.shift, [c]), tf.zeros([c]), tf.fill([c], 1 - eps)],
        });
        y = act(layer.apply(x) as SymbolicTensor, n.act, n.id);
        break;
      }
      case 'act':
        y = act(x, n.act, n.id);
        break;
    }
    values.set(n.id, y);
    if (n.id === graph.output) break;
  }
  if (!input) throw new Error('internal error: graph without input');
  let features = values.get(graph.output)!;
  if (pooled.length > 0) {
    const maps = pooled.map(
      (id) => tf.layers.globalAveragePooling2d({ name: name(id, '_gap') }).apply(values.get(id)!) as SymbolicTensor,
    );
    features = tf.layers
      .concatenate({ axis: -1, name: name('multiscale') })
      .apply([...maps, features]) as SymbolicTensor;
  }
  // Named, so the saved model.json does not depend on how many models the process built before.
  return tf.model({
    inputs: input,
    outputs: head ? head.applyLayers(features) : features,
    name: head ? 'network' : 'trunk',
  });
}
