/**
 * Turn a Keras-style tfjs LayersModel into the folded graph of graph.ts, cut at its global pooling.
 *
 * Supported layers cover MobileNet, Inception, Xception and ResNet style trunks. A model with any
 * other layer before the cut is reported as unsupported (the caller then runs the LayersModel
 * itself, which is slower and cannot be fine-tuned on wasm).
 */
import type { LayersModel } from '@tensorflow/tfjs';
import {
  consumerCounts,
  windowOut,
  type Act,
  type ConvNode,
  type DwConvNode,
  type GNode,
  type Graph,
  type Padding,
} from './graph.js';

type Layer = LayersModel['layers'][number];
type Cfg = Record<string, unknown>;

/** Thrown when a layer cannot be expressed in the folded graph. */
export class UnsupportedLayerError extends Error {}

/** Layers that end a trunk: their output is the feature vector. */
function isGlobalPool(cls: string): boolean {
  return cls === 'GlobalAveragePooling2D' || cls === 'GlobalMaxPooling2D';
}

/**
 * Name of the layer whose output is the pooled feature vector: the first global pooling, or a
 * Flatten right after a pooling that leaves 1x1 (how Keras 2.2 MobileNetV2/InceptionV3 pool).
 */
export function findPoolingCut(model: LayersModel): string {
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (isGlobalPool(cls)) return layer.name;
    if (cls === 'Flatten') {
      const parent = inboundLayers(layer)[0];
      const shape = parent?.outputShape as number[] | undefined;
      if (parent && /Pooling2D$/.test(parent.getClassName()) && shape && shape[1] === 1 && shape[2] === 1)
        return layer.name;
    }
  }
  throw new UnsupportedLayerError('no global pooling layer found (pass cut_layer to name the feature layer)');
}

function inboundLayers(layer: Layer): Layer[] {
  const node = (layer as unknown as { inboundNodes: Array<{ inboundLayers: Layer[] }> }).inboundNodes[0];
  return node ? node.inboundLayers : [];
}

function act(name: unknown, where: string): Act {
  if (name === undefined || name === null || name === 'linear') return 'linear';
  if (name === 'relu' || name === 'relu6') return name;
  throw new UnsupportedLayerError(`${where}: activation ${JSON.stringify(name)} is not supported`);
}

function pair(v: unknown, where: string): [number, number] {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number'))
    return [v[0] as number, v[1] as number];
  throw new UnsupportedLayerError(`${where}: expected a pair of numbers, got ${JSON.stringify(v)}`);
}

function padding(v: unknown, where: string): 'same' | 'valid' {
  if (v === 'same' || v === 'valid') return v;
  throw new UnsupportedLayerError(`${where}: padding ${JSON.stringify(v)} is not supported`);
}

function zeroPads(v: unknown, where: string): [[number, number], [number, number]] {
  if (typeof v === 'number')
    return [
      [v, v],
      [v, v],
    ];
  if (Array.isArray(v) && v.length === 2) {
    const [a, b] = v as unknown[];
    if (typeof a === 'number' && typeof b === 'number')
      return [
        [a, a],
        [b, b],
      ];
    return [pair(a, where), pair(b, where)];
  }
  throw new UnsupportedLayerError(`${where}: padding ${JSON.stringify(v)} is not supported`);
}

/** A layer's weights by their short name (kernel, bias, gamma, ...), as Float32Arrays. */
function weightsOf(layer: Layer): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  const values = layer.getWeights();
  layer.weights.forEach((w, i) => {
    const short = (w.originalName ?? w.name).split('/').pop()!.replace(/:\d+$/, '').replace(/_\d+$/, '');
    const t = values[i];
    if (t) out.set(short, Float32Array.from(t.dataSync() as Float32Array));
  });
  return out;
}

function need(w: Map<string, Float32Array>, name: string, where: string): Float32Array {
  const v = w.get(name);
  if (!v) throw new UnsupportedLayerError(`${where}: weight ${name} missing`);
  return v;
}

function checkChannelsLast(cfg: Cfg, where: string): void {
  if (cfg.dataFormat !== undefined && cfg.dataFormat !== 'channelsLast')
    throw new UnsupportedLayerError(`${where}: only channels_last is supported`);
  const d = cfg.dilationRate;
  if (d !== undefined && pair(d, where).some((x) => x !== 1))
    throw new UnsupportedLayerError(`${where}: dilated convolutions are not supported`);
}

/**
 * Convert the model up to `cutLayer` (default: its global pooling) into a folded graph.
 * `inputShape` is [h, w, c] of the model's input.
 */
export function foldKerasModel(model: LayersModel, cutLayer?: string): Graph {
  const cut = cutLayer ?? findPoolingCut(model);
  const byName = new Map(model.layers.map((l) => [l.name, l]));
  const cutL = byName.get(cut);
  if (!cutL) throw new Error(`cut layer ${JSON.stringify(cut)} is not in the model`);

  // Ancestors of the cut, in a topological order (depth-first post-order).
  const order: Layer[] = [];
  const seen = new Set<string>();
  const visit = (l: Layer): void => {
    if (seen.has(l.name)) return;
    seen.add(l.name);
    for (const p of inboundLayers(l)) visit(p);
    order.push(l);
  };
  visit(cutL);

  const nodes: GNode[] = [];
  const alias = new Map<string, string>(); // layer name -> node id holding its value
  const shapeOf = (id: string): number[] => nodes.find((n) => n.id === id)!.shape;
  const src = (l: Layer): string[] =>
    inboundLayers(l).map((p) => {
      const id = alias.get(p.name);
      if (!id) throw new Error(`internal error: ${p.name} visited after ${l.name}`);
      return id;
    });

  for (const l of order) {
    const cls = l.getClassName();
    const cfg = l.getConfig() as Cfg;
    const where = `layer ${l.name} (${cls})`;
    const inputs = cls === 'InputLayer' ? [] : src(l);
    const x = inputs[0];
    const inShape = x ? shapeOf(x) : [];
    const [h = 0, w = 0, c = 0] = inShape;
    switch (cls) {
      case 'InputLayer': {
        const shape = (l.outputShape as number[]).slice(1);
        if (shape.length !== 3 || shape.some((s) => typeof s !== 'number'))
          throw new UnsupportedLayerError(`${where}: input must be [h, w, c] with fixed sizes`);
        nodes.push({ op: 'input', id: l.name, inputs: [], shape });
        alias.set(l.name, l.name);
        continue;
      }
      case 'Dropout':
      case 'SpatialDropout2D':
      case 'GaussianNoise':
      case 'GaussianDropout':
        alias.set(l.name, x!);
        continue;
      case 'Flatten': {
        if (inShape.length !== 3) {
          alias.set(l.name, x!);
          continue;
        }
        if (h !== 1 || w !== 1)
          throw new UnsupportedLayerError(`${where}: flattening a ${h}x${w} map is beyond a pooled feature`);
        nodes.push({ op: 'gap', id: l.name, inputs: [x!], shape: [c] });
        break;
      }
      case 'ZeroPadding2D': {
        const pads = zeroPads(cfg.padding, where);
        nodes.push({
          op: 'pad',
          id: l.name,
          inputs: [x!],
          shape: [h + pads[0][0] + pads[0][1], w + pads[1][0] + pads[1][1], c],
          pads,
        });
        break;
      }
      case 'Conv2D':
      case 'DepthwiseConv2D':
      case 'SeparableConv2D': {
        checkChannelsLast(cfg, where);
        const k = pair(cfg.kernelSize, where);
        const strides = pair(cfg.strides ?? 1, where);
        const pad: Padding = padding(cfg.padding, where);
        const wts = weightsOf(l);
        const shape = [windowOut(h, k[0], strides[0], pad, 0), windowOut(w, k[1], strides[1], pad, 1)];
        const a = act(cfg.activation, where);
        if (cls === 'Conv2D') {
          const cout = cfg.filters as number;
          nodes.push(
            conv(l.name, x!, k, c, cout, need(wts, 'kernel', where), wts.get('bias'), strides, pad, a, [
              ...shape,
              cout,
            ]),
          );
        } else {
          if ((cfg.depthMultiplier ?? 1) !== 1)
            throw new UnsupportedLayerError(`${where}: depth_multiplier other than 1 is not supported`);
          const dwName = cls === 'DepthwiseConv2D' ? l.name : `${l.name}/depthwise`;
          const dwKernel = need(wts, cls === 'DepthwiseConv2D' ? 'depthwise_kernel' : 'depthwise_kernel', where);
          const dwBias = cls === 'DepthwiseConv2D' ? wts.get('bias') : undefined;
          const dw: DwConvNode = {
            op: 'dwconv',
            id: dwName,
            inputs: [x!],
            shape: [...shape, c],
            kshape: [k[0], k[1], c, 1],
            kernel: dwKernel,
            bias: dwBias ?? new Float32Array(c),
            strides,
            padding: pad,
            act: cls === 'DepthwiseConv2D' ? a : 'linear',
          };
          nodes.push(dw);
          if (cls === 'SeparableConv2D') {
            const cout = cfg.filters as number;
            nodes.push(
              conv(
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
              ),
            );
          }
        }
        break;
      }
      case 'BatchNormalization': {
        const axis = cfg.axis as number | number[];
        if (!(
          axis === -1 ||
          axis === 3 ||
          (Array.isArray(axis) && axis.length === 1 && (axis[0] === -1 || axis[0] === 3))
        )) {
          throw new UnsupportedLayerError(`${where}: only channel-axis batch normalisation is supported`);
        }
        const wts = weightsOf(l);
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
        nodes.push({ op: 'affine', id: l.name, inputs: [x!], shape: inShape, scale, shift, act: 'linear' });
        break;
      }
      case 'ReLU': {
        const slope = (cfg.negativeSlope as number | undefined) ?? 0;
        const threshold = (cfg.threshold as number | undefined) ?? 0;
        const max = cfg.maxValue as number | null | undefined;
        if (slope !== 0 || threshold !== 0 || (max != null && max !== 6))
          throw new UnsupportedLayerError(`${where}: only ReLU and ReLU6 are supported`);
        nodes.push({ op: 'act', id: l.name, inputs: [x!], shape: inShape, act: max === 6 ? 'relu6' : 'relu' });
        break;
      }
      case 'Activation':
        nodes.push({ op: 'act', id: l.name, inputs: [x!], shape: inShape, act: act(cfg.activation, where) });
        break;
      case 'Add':
        nodes.push({ op: 'add', id: l.name, inputs, shape: inShape, act: 'linear' });
        break;
      case 'Concatenate': {
        const axis = cfg.axis as number;
        if (axis !== -1 && axis !== 3)
          throw new UnsupportedLayerError(`${where}: only channel concatenation is supported`);
        const channels = inputs.reduce((s, id) => s + shapeOf(id)[2]!, 0);
        nodes.push({ op: 'concat', id: l.name, inputs, shape: [h, w, channels] });
        break;
      }
      case 'AveragePooling2D':
      case 'MaxPooling2D': {
        checkChannelsLast(cfg, where);
        const size = pair(cfg.poolSize, where);
        const strides = pair(cfg.strides ?? cfg.poolSize, where);
        const pad = padding(cfg.padding, where);
        const shape = [windowOut(h, size[0], strides[0], pad, 0), windowOut(w, size[1], strides[1], pad, 1), c];
        nodes.push({
          op: cls === 'AveragePooling2D' ? 'avgpool' : 'maxpool',
          id: l.name,
          inputs: [x!],
          shape,
          size,
          strides,
          padding: pad,
        });
        break;
      }
      case 'GlobalAveragePooling2D':
        checkChannelsLast(cfg, where);
        nodes.push({ op: 'gap', id: l.name, inputs: [x!], shape: [c] });
        break;
      default:
        throw new UnsupportedLayerError(`${where}: layer type not supported by the folded graph`);
    }
    alias.set(l.name, nodes[nodes.length - 1]!.id);
  }
  const output = alias.get(cut)!;
  const g = fold({ nodes, output });
  // A pooling that covers the whole map followed by Flatten is a global average: say so.
  return simplifyGlobalPool(g);
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
  padding: Padding,
  a: Act,
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
    padding,
    act: a,
  };
}

/**
 * Fold batch normalisation into the convolution before it, activations into the op before them,
 * and zero padding into the window op after it. Each fold needs the earlier node to have no other reader.
 */
export function fold(g: Graph): Graph {
  let nodes = g.nodes.slice();
  const output = g.output;
  for (let changed = true; changed;) {
    changed = false;
    const readers = consumerCounts(nodes);
    const byId = new Map(nodes.map((n) => [n.id, n]));
    for (let i = 0; i < nodes.length; i++) {
      const n = nodes[i]!;
      const prev = n.inputs.length === 1 ? byId.get(n.inputs[0]!) : undefined;
      if (!prev || readers.get(prev.id) !== 1 || prev.id === output) continue;
      let merged: GNode | undefined;
      if (
        n.op === 'affine' &&
        n.act === 'linear' &&
        (prev.op === 'conv' || prev.op === 'dwconv') &&
        prev.act === 'linear'
      ) {
        merged = foldAffineIntoConv(prev, n.scale, n.shift);
      } else if (
        n.op === 'act' &&
        (prev.op === 'conv' || prev.op === 'dwconv' || prev.op === 'add' || prev.op === 'affine') &&
        prev.act === 'linear'
      ) {
        merged = { ...prev, act: n.act };
      } else if ((n.op === 'conv' || n.op === 'dwconv') && prev.op === 'pad' && n.padding === 'valid') {
        merged = { ...n, inputs: prev.inputs, padding: prev.pads };
      }
      if (merged) {
        // The merged node takes the later node's id and place, so readers of the later node stay wired.
        const node = { ...merged, id: n.id, shape: n.shape } as GNode;
        nodes = nodes.filter((m) => m.id !== prev.id).map((m) => (m.id === n.id ? node : m));
        changed = true;
        break;
      }
    }
  }
  return { nodes, output };
}

function foldAffineIntoConv(n: ConvNode | DwConvNode, scale: Float32Array, shift: Float32Array): ConvNode | DwConvNode {
  const kernel = new Float32Array(n.kernel.length);
  // The output channel is the last kernel axis for conv; the third (channel) axis for depthwise.
  const outCh = n.op === 'conv' ? n.kshape[3] : n.kshape[2];
  const stride = n.op === 'conv' ? 1 : n.kshape[3];
  for (let i = 0; i < kernel.length; i++) {
    const o = Math.floor(i / stride) % outCh;
    kernel[i] = n.kernel[i]! * scale[o]!;
  }
  const bias = new Float32Array(outCh);
  for (let o = 0; o < outCh; o++) bias[o] = n.bias[o]! * scale[o]! + shift[o]!;
  return { ...n, kernel, bias };
}

/** avgpool over the whole map followed by gap of a 1x1 map -> one gap. */
function simplifyGlobalPool(g: Graph): Graph {
  const out = g.nodes.find((n) => n.id === g.output);
  if (!out || out.op !== 'gap') return g;
  const prev = g.nodes.find((n) => n.id === out.inputs[0]);
  if (!prev || prev.op !== 'avgpool' || prev.padding !== 'valid') return g;
  const inShape = g.nodes.find((n) => n.id === prev.inputs[0])?.shape;
  if (!inShape || inShape[0] !== prev.size[0] || inShape[1] !== prev.size[1]) return g;
  const readers = consumerCounts(g.nodes);
  if (readers.get(prev.id) !== 1) return g;
  const nodes = g.nodes
    .filter((n) => n.id !== prev.id)
    .map((n) => (n.id === out.id ? { ...out, inputs: prev.inputs } : n));
  return { nodes, output: g.output };
}
