/**
 * What each supported Keras layer class becomes in the folded graph (graph.ts): one function per
 * layer family, looked up by class name. A layer either adds nodes, or is an alias of its input
 * (layers that do nothing at inference: dropout and noise).
 */
import { windowOut, type ConvNode, type DwConvNode, type GNode, type Padding } from './graph.js';
import {
  UnsupportedLayerError,
  act,
  checkChannelsLast,
  need,
  pair,
  padding,
  weightsOf,
  zeroPads,
  type Cfg,
  type Layer,
} from './keras-config.js';

/** One layer in context: its config, input node ids and their shapes. */
export interface LayerInput {
  layer: Layer;
  cls: string;
  cfg: Cfg;
  /** For messages: `layer conv1 (Conv2D)`. */
  where: string;
  inputs: string[];
  shapeOf(id: string): number[];
}

export type LayerFold = { nodes: GNode[] } | { alias: string };

/** Input node, shape of the first input, and its [h, w, c]. */
function first(li: LayerInput): { x: string; shape: number[]; h: number; w: number; c: number } {
  const x = li.inputs[0]!;
  const shape = li.shapeOf(x);
  const [h = 0, w = 0, c = 0] = shape;
  return { x, shape, h, w, c };
}

function conv(
  id: string,
  x: string,
  k: [number, number],
  cin: number,
  cout: number,
  kernel: Float32Array,
  bias: Float32Array | undefined,
  strides: [number, number],
  pad: Padding,
  a: ConvNode['act'],
  shape: number[],
): ConvNode {
  return {
    op: 'conv',
    id,
    inputs: [x],
    shape,
    kshape: [k[0], k[1], cin, cout],
    kernel,
    bias: bias ?? new Float32Array(cout),
    strides,
    padding: pad,
    act: a,
  };
}

function inputLayer(li: LayerInput): LayerFold {
  const shape = (li.layer.outputShape as number[]).slice(1);
  if (shape.length !== 3 || shape.some((s) => typeof s !== 'number'))
    throw new UnsupportedLayerError(`${li.where}: input must be [h, w, c] with fixed sizes`);
  return { nodes: [{ op: 'input', id: li.layer.name, inputs: [], shape }] };
}

function flatten(li: LayerInput): LayerFold {
  const { x, shape, h, w, c } = first(li);
  if (shape.length !== 3) return { alias: x };
  if (h !== 1 || w !== 1)
    throw new UnsupportedLayerError(`${li.where}: flattening a ${h}x${w} map is beyond a pooled feature`);
  return { nodes: [{ op: 'gap', id: li.layer.name, inputs: [x], shape: [c] }] };
}

function zeroPadding(li: LayerInput): LayerFold {
  const { x, h, w, c } = first(li);
  const pads = zeroPads(li.cfg.padding, li.where);
  const shape = [h + pads[0][0] + pads[0][1], w + pads[1][0] + pads[1][1], c];
  return { nodes: [{ op: 'pad', id: li.layer.name, inputs: [x], shape, pads }] };
}

/** Conv2D, DepthwiseConv2D, and SeparableConv2D (a depthwise then a 1x1 convolution). */
function convolution(li: LayerInput): LayerFold {
  const { cls, cfg, where, layer: l } = li;
  const { x, h, w, c } = first(li);
  checkChannelsLast(cfg, where);
  const k = pair(cfg.kernelSize, where);
  const strides = pair(cfg.strides ?? 1, where);
  const pad: Padding = padding(cfg.padding, where);
  const wts = weightsOf(l);
  const shape = [windowOut(h, k[0], strides[0], pad, 0), windowOut(w, k[1], strides[1], pad, 1)];
  const a = act(cfg.activation, where);
  if (cls === 'Conv2D') {
    const cout = cfg.filters as number;
    return {
      nodes: [
        conv(l.name, x, k, c, cout, need(wts, 'kernel', where), wts.get('bias'), strides, pad, a, [...shape, cout]),
      ],
    };
  }
  if ((cfg.depthMultiplier ?? 1) !== 1)
    throw new UnsupportedLayerError(`${where}: depth_multiplier other than 1 is not supported`);
  const dwName = cls === 'DepthwiseConv2D' ? l.name : `${l.name}/depthwise`;
  const dw: DwConvNode = {
    op: 'dwconv',
    id: dwName,
    inputs: [x],
    shape: [...shape, c],
    kshape: [k[0], k[1], c, 1],
    kernel: need(wts, 'depthwise_kernel', where),
    bias: (cls === 'DepthwiseConv2D' ? wts.get('bias') : undefined) ?? new Float32Array(c),
    strides,
    padding: pad,
    act: cls === 'DepthwiseConv2D' ? a : 'linear',
  };
  if (cls === 'DepthwiseConv2D') return { nodes: [dw] };
  const cout = cfg.filters as number;
  const pointwise = conv(
    l.name,
    dwName,
    [1, 1],
    c,
    cout,
    need(wts, 'pointwise_kernel', where),
    wts.get('bias'),
    [1, 1],
    'valid',
    a,
    [...shape, cout],
  );
  return { nodes: [dw, pointwise] };
}

/** Batch normalisation at inference: a per-channel affine map. */
function batchNorm(li: LayerInput): LayerFold {
  const { cfg, where } = li;
  const { x, shape } = first(li);
  const axis = cfg.axis as number | number[];
  const channelAxis =
    axis === -1 || axis === 3 || (Array.isArray(axis) && axis.length === 1 && (axis[0] === -1 || axis[0] === 3));
  if (!channelAxis) throw new UnsupportedLayerError(`${where}: only channel-axis batch normalisation is supported`);
  const wts = weightsOf(li.layer);
  const eps = (cfg.epsilon as number | undefined) ?? 1e-3;
  const mean = need(wts, 'moving_mean', where);
  const variance = need(wts, 'moving_variance', where);
  const gamma = wts.get('gamma');
  const beta = wts.get('beta');
  const scale = new Float32Array(mean.length);
  const shift = new Float32Array(mean.length);
  for (let i = 0; i < mean.length; i++) {
    scale[i] = (gamma ? gamma[i]! : 1) / Math.sqrt(variance[i]! + eps);
    shift[i] = (beta ? beta[i]! : 0) - mean[i]! * scale[i]!;
  }
  return { nodes: [{ op: 'affine', id: li.layer.name, inputs: [x], shape, scale, shift, act: 'linear' }] };
}

function relu(li: LayerInput): LayerFold {
  const { cfg, where } = li;
  const { x, shape } = first(li);
  const slope = (cfg.negativeSlope as number | undefined) ?? 0;
  const threshold = (cfg.threshold as number | undefined) ?? 0;
  const max = cfg.maxValue as number | null | undefined;
  if (slope !== 0 || threshold !== 0 || (max != null && max !== 6))
    throw new UnsupportedLayerError(`${where}: only ReLU and ReLU6 are supported`);
  return { nodes: [{ op: 'act', id: li.layer.name, inputs: [x], shape, act: max === 6 ? 'relu6' : 'relu' }] };
}

function activation(li: LayerInput): LayerFold {
  const { x, shape } = first(li);
  return { nodes: [{ op: 'act', id: li.layer.name, inputs: [x], shape, act: act(li.cfg.activation, li.where) }] };
}

function add(li: LayerInput): LayerFold {
  return { nodes: [{ op: 'add', id: li.layer.name, inputs: li.inputs, shape: first(li).shape, act: 'linear' }] };
}

function concatenate(li: LayerInput): LayerFold {
  const axis = li.cfg.axis as number;
  if (axis !== -1 && axis !== 3)
    throw new UnsupportedLayerError(`${li.where}: only channel concatenation is supported`);
  const { h, w } = first(li);
  const channels = li.inputs.reduce((s, id) => s + li.shapeOf(id)[2]!, 0);
  return { nodes: [{ op: 'concat', id: li.layer.name, inputs: li.inputs, shape: [h, w, channels] }] };
}

function pooling(li: LayerInput): LayerFold {
  const { cfg, where } = li;
  const { x, h, w, c } = first(li);
  checkChannelsLast(cfg, where);
  const size = pair(cfg.poolSize, where);
  const strides = pair(cfg.strides ?? cfg.poolSize, where);
  const pad = padding(cfg.padding, where);
  const shape = [windowOut(h, size[0], strides[0], pad, 0), windowOut(w, size[1], strides[1], pad, 1), c];
  const op = li.cls === 'AveragePooling2D' ? 'avgpool' : 'maxpool';
  return { nodes: [{ op, id: li.layer.name, inputs: [x], shape, size, strides, padding: pad }] };
}

function globalAverage(li: LayerInput): LayerFold {
  checkChannelsLast(li.cfg, li.where);
  const { x, c } = first(li);
  return { nodes: [{ op: 'gap', id: li.layer.name, inputs: [x], shape: [c] }] };
}

/** Dropout and noise layers do nothing at inference. */
const passThrough = (li: LayerInput): LayerFold => ({ alias: first(li).x });

const LAYERS: Record<string, (li: LayerInput) => LayerFold> = {
  InputLayer: inputLayer,
  Dropout: passThrough,
  SpatialDropout2D: passThrough,
  GaussianNoise: passThrough,
  GaussianDropout: passThrough,
  Flatten: flatten,
  ZeroPadding2D: zeroPadding,
  Conv2D: convolution,
  DepthwiseConv2D: convolution,
  SeparableConv2D: convolution,
  BatchNormalization: batchNorm,
  ReLU: relu,
  Activation: activation,
  Add: add,
  Concatenate: concatenate,
  AveragePooling2D: pooling,
  MaxPooling2D: pooling,
  GlobalAveragePooling2D: globalAverage,
};

/** The folded form of one layer; UnsupportedLayerError for a class the graph cannot express. */
export function foldLayer(li: LayerInput): LayerFold {
  const fold = Object.hasOwn(LAYERS, li.cls) ? LAYERS[li.cls] : undefined;
  if (!fold) throw new UnsupportedLayerError(`${li.where}: layer type not supported by the folded graph`);
  return fold(li);
}
