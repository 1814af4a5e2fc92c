/**
 * A small intermediate form for convolutional backbones: a DAG of "folded" nodes where batch
 * normalisation has been merged into the preceding convolution's kernel and bias, and activations
 * into the op that feeds them. One form serves three jobs:
 *  - fast inference with tfjs fused kernels (conv + bias + relu6 in one call),
 *  - training the last layers on wasm with ops that have gradients there (see graph-train.ts),
 *  - saving any part of it back as a standard TensorFlow.js LayersModel (see graph-layers.ts).
 * Shapes exclude the batch dimension: `[h, w, c]` for images, `[c]` after global pooling.
 */

export type Act = 'linear' | 'relu' | 'relu6';
/** Padding of a window op: tf's 'same'/'valid', or explicit [[top, bottom], [left, right]]. */
export type Padding = 'same' | 'valid' | [[number, number], [number, number]];

interface Base {
  id: string;
  inputs: string[];
  shape: number[];
}

export interface InputNode extends Base {
  op: 'input';
}
/** Fields shared by convolutions: kernel and bias (batch norm folded in), window, fused activation. */
interface WindowWeights extends Base {
  /** conv: [kh, kw, cin, cout]; dwconv: [kh, kw, c, 1] (depth multiplier 1). Row-major like tfjs. */
  kshape: [number, number, number, number];
  kernel: Float32Array;
  bias: Float32Array;
  strides: [number, number];
  padding: Padding;
  act: Act;
}
export interface ConvNode extends WindowWeights {
  op: 'conv';
}
export interface DwConvNode extends WindowWeights {
  op: 'dwconv';
}
export interface PadNode extends Base {
  op: 'pad';
  pads: [[number, number], [number, number]];
}
export interface AddNode extends Base {
  op: 'add';
  act: Act;
}
export interface ConcatNode extends Base {
  op: 'concat';
}
export interface PoolNode extends Base {
  op: 'avgpool' | 'maxpool';
  size: [number, number];
  strides: [number, number];
  padding: 'same' | 'valid';
}
/** Mean over height and width: [h, w, c] -> [c]. */
export interface GapNode extends Base {
  op: 'gap';
}
/** Per-channel y = act(x * scale + shift): a batch normalisation that could not be folded. */
export interface AffineNode extends Base {
  op: 'affine';
  scale: Float32Array;
  shift: Float32Array;
  act: Act;
}
export interface ActNode extends Base {
  op: 'act';
  act: Act;
}

export type GNode =
  InputNode | ConvNode | DwConvNode | PadNode | AddNode | ConcatNode | PoolNode | GapNode | AffineNode | ActNode;
/** Nodes that carry trainable weights. */
export type WeightNode = ConvNode | DwConvNode | AffineNode;

export interface Graph {
  /** Nodes in a topological order; the first is the input. */
  nodes: GNode[];
  /** Id of the node whose value is the feature vector (usually a `gap`). */
  output: string;
  /**
   * The source model's layers each node stands for, in model order (a folded conv holds its
   * Conv2D, BatchNormalization and ReLU): how fine-tuning counts layers as Keras does. Absent for
   * graphs built directly (each node then counts as one layer).
   */
  layers?: Record<string, string[]>;
}

export function isWeightNode(n: GNode): n is WeightNode {
  return n.op === 'conv' || n.op === 'dwconv' || n.op === 'affine';
}

/** Index nodes by id. */
export function nodeMap(g: Graph): Map<string, GNode> {
  return new Map(g.nodes.map((n) => [n.id, n]));
}

/** How many nodes read each node's output. */
export function consumerCounts(nodes: GNode[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const n of nodes) for (const i of n.inputs) counts.set(i, (counts.get(i) ?? 0) + 1);
  return counts;
}

/** Output spatial size of a window op along one axis. */
export function windowOut(size: number, k: number, stride: number, padding: Padding, axis: 0 | 1): number {
  if (padding === 'same') return Math.ceil(size / stride);
  if (padding === 'valid') return Math.floor((size - k) / stride) + 1;
  const [a, b] = padding[axis];
  return Math.floor((size + a + b - k) / stride) + 1;
}

/** Explicit [before, after] padding that tf's 'same' uses along one axis. */
export function samePads(size: number, k: number, stride: number): [number, number] {
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + k - size, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/** Explicit padding of a window op on an input of [h, w]. */
export function explicitPads(
  padding: Padding,
  h: number,
  w: number,
  k: [number, number],
  s: [number, number],
): [[number, number], [number, number]] {
  if (padding === 'valid')
    return [
      [0, 0],
      [0, 0],
    ];
  if (padding === 'same') return [samePads(h, k[0], s[0]), samePads(w, k[1], s[1])];
  return padding;
}

/** Number of values in a node's output per example. */
export function sizeOf(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The weight tensors of a node, in a fixed order, as [name, values, shape]. */
export function nodeWeights(n: WeightNode): Array<[string, Float32Array, number[]]> {
  if (n.op === 'affine')
    return [
      ['scale', n.scale, [n.scale.length]],
      ['shift', n.shift, [n.shift.length]],
    ];
  return [
    ['kernel', n.kernel, [...n.kshape]],
    ['bias', n.bias, [n.bias.length]],
  ];
}

/** Replace a node's weights (same order as nodeWeights). */
export function setNodeWeights(n: WeightNode, values: Float32Array[]): void {
  const [a, b] = values;
  if (!a || !b) throw new Error(`internal error: ${n.id} needs 2 weight arrays`);
  if (n.op === 'affine') {
    n.scale = a;
    n.shift = b;
  } else {
    n.kernel = a;
    n.bias = b;
  }
}
