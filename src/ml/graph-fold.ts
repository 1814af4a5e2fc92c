/**
 * Folding passes over a graph (graph.ts) that make inference and training cheaper without
 * changing what it computes: batch normalisation into the convolution before it, activations
 * into the op before them, zero padding into the window op after it, and an average pooling over
 * the whole map before a global pooling into one global pooling.
 */
import { consumerCounts, type ConvNode, type DwConvNode, type GNode, type Graph } from './graph.js';

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
export function simplifyGlobalPool(g: Graph): Graph {
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
