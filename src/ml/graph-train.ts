/**
 * Training the last layers of a folded trunk.
 *
 * Two ways to run the same nodes with gradients:
 *  - `native`: tf.conv2d / tf.depthwiseConv2d. Needs convolution gradients (tfjs-node, cpu).
 *  - `matmul`: only ops whose gradients the wasm backend has. A 1x1 convolution is a matrix
 *    product over pixels; a k x k convolution gathers its k*k shifted views (slices of the padded
 *    input, strided by a reshape) into channels and does one matrix product (im2col); a depthwise
 *    k x k convolution is the sum of k*k shifted views times the per-channel taps.
 * Batch normalisation is already folded into kernel and bias (graph.ts), so the trained layers
 * are plain affine maps — as fine-tuning with frozen BN statistics would be anyway.
 */
import type { Tensor, Tensor2D, Tensor4D, Variable } from '@tensorflow/tfjs';
import type { TF } from './backend.js';
import { applyAct, runPlainNode } from './graph-infer.js';
import { fastMatMul } from './fast-matmul.js';
import {
  explicitPads,
  isWeightNode,
  nodeWeights,
  setNodeWeights,
  sizeOf,
  type ConvNode,
  type DwConvNode,
  type GNode,
  type Graph,
  type WeightNode,
} from './graph.js';

export type Flavour = 'native' | 'matmul';

/** Where to cut a trunk so that its last `n` weight layers can be trained. */
export interface TailPlan {
  /** Node whose value feeds the tail (the cached activation). */
  cut: string;
  /** Tail nodes in order (after the cut, up to the graph output). */
  nodes: GNode[];
  /** Ids of the weight nodes that train. */
  trainable: string[];
}

/**
 * Nodes after which the rest of the graph depends on nothing earlier: valid cut points, as
 * indices into g.nodes (the input node is always one).
 */
export function articulationPoints(g: Graph): number[] {
  const pos = new Map(g.nodes.map((n, i) => [n.id, i]));
  // For each node, the earliest index any later node reads; a cut at i is valid when no node after i reads a node before i.
  const points: number[] = [];
  let minReadAfter = Infinity;
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    if (minReadAfter >= i) points.push(i);
    for (const inp of g.nodes[i]!.inputs) minReadAfter = Math.min(minReadAfter, pos.get(inp)!);
  }
  return points.reverse();
}

/**
 * Nodes standing for the last `n` layers of the source model before its global pooling, counted
 * as Keras counts them (`base.layers[-n:]`: a Conv2D, its BatchNormalization and its ReLU are
 * three), as indices into g.nodes. A folded node trains when any of its layers is among the `n`.
 */
export function lastLayerNodes(g: Graph, n: number): number[] {
  const outIdx = g.nodes.findIndex((x) => x.id === g.output);
  const picked: number[] = [];
  let counted = 0;
  for (let i = outIdx - 1; i > 0 && counted < n; i--) {
    picked.push(i);
    counted += g.layers ? (g.layers[g.nodes[i]!.id]?.length ?? 0) : 1;
  }
  return picked.reverse();
}

/**
 * Plan the tail that trains the weight nodes among the last `n` layers (lastLayerNodes); at least
 * the last weight node trains, and all of them when `n` covers the whole trunk.
 */
export function planTail(g: Graph, n: number): TailPlan {
  const outIdx = g.nodes.findIndex((x) => x.id === g.output);
  const isWeight = (i: number): boolean => isWeightNode(g.nodes[i]!) && i <= outIdx;
  const weightIdx = g.nodes.map((_, i) => i).filter(isWeight);
  if (weightIdx.length === 0) throw new Error('the trunk has no trainable layers');
  const picked = lastLayerNodes(g, n).filter(isWeight);
  const train = picked.length ? picked : [weightIdx[weightIdx.length - 1]!];
  const cuts = articulationPoints(g).filter((i) => i < train[0]!);
  const cutIdx = cuts[cuts.length - 1] ?? 0;
  const nodes = g.nodes.slice(cutIdx + 1, outIdx + 1);
  return { cut: g.nodes[cutIdx]!.id, nodes, trainable: train.map((i) => g.nodes[i]!.id) };
}

/**
 * Where to cache activations for a tail: among the cut points at the same spatial resolution as
 * the tail's own cut (its resolution stage), the smallest activation, the earliest of those. The
 * cache then serves any number of unfrozen layers within the stage; the frozen layers between the
 * cache point and the tail's cut run once per training run, not per step.
 */
export function cachePoint(g: Graph, plan: TailPlan): string {
  const cutIdx = g.nodes.findIndex((n) => n.id === plan.cut);
  const cut = g.nodes[cutIdx]!;
  if (cut.op === 'input' || cut.shape.length !== 3) return plan.cut;
  const spatial = (s: number[]): string => (s.length === 3 ? `${s[0]}x${s[1]}` : 'flat');
  const same = articulationPoints(g)
    .filter((i) => i <= cutIdx && g.nodes[i]!.op !== 'input' && spatial(g.nodes[i]!.shape) === spatial(cut.shape))
    .map((i) => g.nodes[i]!);
  const smallest = Math.min(...same.map((n) => sizeOf(n.shape)));
  return same.find((n) => sizeOf(n.shape) === smallest)?.id ?? plan.cut;
}

/**
 * The last cut point of every spatial resolution of the trunk (the end of each stage), in order,
 * excluding the input and the map the final pooling reads: what multi-scale pooling averages.
 */
export function stageEnds(g: Graph): string[] {
  const out: string[] = [];
  let last: GNode | undefined;
  for (const i of articulationPoints(g)) {
    const n = g.nodes[i]!;
    if (n.op === 'input' || n.shape.length !== 3) continue;
    if (last && (last.shape[0] !== n.shape[0] || last.shape[1] !== n.shape[1])) out.push(last.id);
    last = n;
  }
  if (last) out.push(last.id);
  // The map the final global pooling reads is already in the feature vector.
  const pooled = g.nodes.find((n) => n.id === g.output);
  return pooled?.op === 'gap' ? out.filter((id) => id !== pooled.inputs[0]) : out;
}

/** A trainable (or frozen) sub-graph from one input node to the pooled output. */
export class Tail {
  private readonly vars = new Map<string, Variable[]>();
  private readonly consts = new Map<string, Tensor[]>();
  /** Nodes downstream of a trainable node: only their inputs need gradients. */
  private readonly live = new Set<string>();

  constructor(
    private readonly tf: TF,
    readonly input: string,
    readonly nodes: GNode[],
    trainable: Iterable<string>,
    private readonly flavour: Flavour,
  ) {
    const train = new Set(trainable);
    for (const n of nodes) if (train.has(n.id) || n.inputs.some((i) => this.live.has(i))) this.live.add(n.id);
    for (const n of nodes) {
      if (!isWeightNode(n)) continue;
      const ts = nodeWeights(n).map(([, v, shape]) => tf.tensor(v, shape));
      if (train.has(n.id)) {
        this.vars.set(
          n.id,
          ts.map((t) => tf.variable(t, true)),
        );
        tf.dispose(ts);
      } else {
        this.consts.set(n.id, ts);
      }
    }
  }

  /** Trainable variables, in node order. */
  get variables(): Variable[] {
    return [...this.vars.values()].flat();
  }

  private weights(id: string): Tensor[] {
    const w = this.vars.get(id) ?? this.consts.get(id);
    if (!w) throw new Error(`internal error: no weights for ${id}`);
    return w;
  }

  /**
   * Run the tail on the cut activation [b, h, w, c]; returns the values of `outputs` (default:
   * the last node, the pooled feature [b, c]).
   */
  forward(x: Tensor, outputs?: string[]): Tensor[] {
    const values = new Map<string, Tensor>([[this.input, x]]);
    for (const n of this.nodes) {
      const xs = n.inputs.map((i) => {
        const v = values.get(i);
        if (!v) throw new Error(`internal error: ${i} not available for ${n.id}`);
        return v;
      });
      values.set(n.id, this.run(n, xs));
    }
    return (outputs ?? [this.nodes[this.nodes.length - 1]!.id]).map((id) => {
      const v = values.get(id);
      if (!v) throw new Error(`internal error: ${id} is not in the tail`);
      return v;
    });
  }

  private run(n: GNode, xs: Tensor[]): Tensor {
    const { tf } = this;
    const x = xs[0] as Tensor4D;
    switch (n.op) {
      case 'input':
        throw new Error(`internal error: input ${n.id} inside a tail`);
      case 'conv':
      case 'dwconv': {
        const [k, b] = this.weights(n.id) as [Tensor4D, Tensor];
        const inputGrad = n.inputs.some((i) => this.live.has(i));
        const y =
          this.flavour === 'native'
            ? nativeConv(tf, n, x, k)
            : n.op === 'conv'
              ? matmulConv(tf, n, x, k, inputGrad)
              : shiftedDepthwise(tf, n, x, k);
        return applyAct(tf, tf.add(y, b), n.act);
      }
      default:
        return runPlainNode(tf, n, xs, (id) => this.weights(id));
    }
  }

  /** Copy the trained values back into the graph nodes (for saving the whole network). */
  writeBack(): void {
    for (const n of this.nodes) {
      const vs = this.vars.get(n.id);
      if (vs && isWeightNode(n))
        setNodeWeights(
          n as WeightNode,
          vs.map((v) => Float32Array.from(v.dataSync() as Float32Array)),
        );
    }
  }

  dispose(): void {
    for (const ts of [...this.vars.values(), ...this.consts.values()]) this.tf.dispose(ts);
    this.vars.clear();
    this.consts.clear();
  }
}

function nativeConv(tf: TF, n: ConvNode | DwConvNode, x: Tensor4D, k: Tensor4D): Tensor4D {
  const [hIn, wIn] = [x.shape[1], x.shape[2]];
  const pads = explicitPads(n.padding, hIn, wIn, [n.kshape[0], n.kshape[1]], n.strides);
  const xp = pads.flat().some((v) => v !== 0) ? tf.pad(x, [[0, 0], pads[0], pads[1], [0, 0]]) : x;
  return n.op === 'conv' ? tf.conv2d(xp, k, n.strides, 'valid') : tf.depthwiseConv2d(xp, k, n.strides, 'valid');
}

/**
 * The k*k shifted, strided views of x that a window op reads, each [b, hOut, wOut, c], in kernel
 * order (row-major over the taps).
 */
function windows(tf: TF, n: ConvNode | DwConvNode, x: Tensor4D): { views: Tensor4D[]; hOut: number; wOut: number } {
  const [b, hIn, wIn, c] = x.shape;
  const [kh, kw] = [n.kshape[0], n.kshape[1]];
  const [sh, sw] = n.strides;
  const pads = explicitPads(n.padding, hIn, wIn, [kh, kw], n.strides);
  const hOut = Math.floor((hIn + pads[0][0] + pads[0][1] - kh) / sh) + 1;
  const wOut = Math.floor((wIn + pads[1][0] + pads[1][1] - kw) / sw) + 1;
  // Extra bottom/right zeros so every strided view can be taken as a whole block then subsampled.
  const needH = kh - 1 + hOut * sh;
  const needW = kw - 1 + wOut * sw;
  const extraH = Math.max(0, needH - (hIn + pads[0][0] + pads[0][1]));
  const extraW = Math.max(0, needW - (wIn + pads[1][0] + pads[1][1]));
  const padded = tf.pad(x, [
    [0, 0],
    [pads[0][0], pads[0][1] + extraH],
    [pads[1][0], pads[1][1] + extraW],
    [0, 0],
  ]);
  const views: Tensor4D[] = [];
  for (let dy = 0; dy < kh; dy++) {
    for (let dx = 0; dx < kw; dx++) {
      let v = tf.slice(padded, [0, dy, dx, 0], [b, hOut * sh, wOut * sw, c]) as Tensor4D;
      if (sh > 1 || sw > 1) {
        // Keep every sh-th row and sw-th column: a reshape exposes the phase, a slice keeps phase 0.
        v = tf.reshape(
          tf.slice(tf.reshape(v, [b, hOut, sh, wOut, sw, c]), [0, 0, 0, 0, 0, 0], [b, hOut, 1, wOut, 1, c]),
          [b, hOut, wOut, c],
        );
      }
      views.push(v);
    }
  }
  return { views, hOut, wOut };
}

function matmulConv(tf: TF, n: ConvNode, x: Tensor4D, k: Tensor4D, inputGrad: boolean): Tensor {
  const [b, hIn, wIn, cin] = x.shape;
  const [kh, kw, , cout] = n.kshape;
  const noPad = explicitPads(n.padding, hIn, wIn, [kh, kw], n.strides)
    .flat()
    .every((v) => v === 0);
  if (kh === 1 && kw === 1 && n.strides[0] === 1 && n.strides[1] === 1 && noPad) {
    const y = fastMatMul(
      tf,
      tf.reshape(x, [b * hIn * wIn, cin]) as Tensor2D,
      tf.reshape(k, [cin, cout]) as Tensor2D,
      inputGrad,
    );
    return tf.reshape(y, [b, hIn, wIn, cout]);
  }
  const { views, hOut, wOut } = windows(tf, n, x);
  const cols = views.length === 1 ? views[0]! : tf.concat(views, 3);
  const y = fastMatMul(
    tf,
    tf.reshape(cols, [b * hOut * wOut, kh * kw * cin]) as Tensor2D,
    tf.reshape(k, [kh * kw * cin, cout]) as Tensor2D,
    inputGrad,
  );
  return tf.reshape(y, [b, hOut, wOut, cout]);
}

function shiftedDepthwise(tf: TF, n: DwConvNode, x: Tensor4D, k: Tensor4D): Tensor {
  const c = x.shape[3];
  const [kh, kw] = [n.kshape[0], n.kshape[1]];
  const taps = tf.reshape(k, [kh * kw, c]);
  const { views } = windows(tf, n, x);
  const terms = views.map((v, t) => tf.mul(v, tf.reshape(tf.slice(taps, [t, 0], [1, c]), [c])));
  return terms.length === 1 ? terms[0]! : tf.addN(terms);
}
