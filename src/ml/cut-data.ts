/**
 * In-memory training data for fine-tuning: per image (and per orientation when flips are cached),
 * the trunk's activation at the tail's cut and the pooled frozen stage ends (multi-scale), held as
 * float16 to halve memory. Built from the feature store, then advanced from the cache point to the
 * cut once per run with the fused inference kernels (the frozen layers in between never run per
 * step).
 */
import type { Tensor, Tensor4D } from '@tensorflow/tfjs';
import type { TF } from './backend.js';
import { encodeHalf } from '../util/float16.js';
import { FeatureMatrix } from '../formats/features.js';
import type { FeatureCache } from './feature-cache.js';
import { evaluate, type GraphWeights } from './graph-infer.js';
import { sizeOf, type Graph } from './graph.js';

export interface CutRows {
  /** Activation at the cut, one row per image x orientation: [rows, h*w*c]. */
  act: FeatureMatrix;
  /** Spatial shape of one activation row. */
  shape: number[];
  /** Pooled frozen stage ends, same rows (dim 0 when multi-scale is off). */
  frozen: FeatureMatrix;
  /** Rows per image: 2 with cached flips (original, mirrored), else 1. */
  rowsPer: number;
  images: number;
}

/** Grows a float16 matrix row by row. */
class HalfRows {
  private data: Uint16Array;
  rows = 0;
  constructor(
    readonly dim: number,
    capacity: number,
  ) {
    this.data = new Uint16Array(Math.max(1, capacity) * dim);
  }
  push(values: Float32Array, from = 0): void {
    encodeHalf(
      values.subarray(from, from + this.dim),
      this.data.subarray(this.rows * this.dim, (this.rows + 1) * this.dim),
    );
    this.rows++;
  }
  done(): FeatureMatrix {
    return new FeatureMatrix(this.rows, this.dim, this.data.subarray(0, this.rows * this.dim));
  }
}

/**
 * Rows of `hashes` from the activation cache, whose items are laid out as [act rows, pooled rows] with
 * `rowsPer` rows each (what the feature pool writes for groups [cache node, pooled ends]).
 */
export function rowsFromCache(
  cache: FeatureCache,
  modelKey: string,
  hashes: string[],
  actDim: number,
  frozenDim: number,
  rowsPer: number,
  shape: number[],
): CutRows {
  const act = new HalfRows(actDim, hashes.length * rowsPer);
  const frozen = new HalfRows(frozenDim, hashes.length * rowsPer);
  for (const h of hashes) {
    const v = cache.get(modelKey, h);
    if (!v || v.length !== rowsPer * (actDim + frozenDim))
      throw new Error(`internal error: cached activation for ${h} missing or of the wrong size`);
    for (let r = 0; r < rowsPer; r++) {
      act.push(v, r * actDim);
      frozen.push(v, rowsPer * actDim + r * frozenDim);
    }
  }
  return { act: act.done(), shape, frozen: frozen.done(), rowsPer, images: hashes.length };
}

/**
 * Run the frozen layers from the cache point to the cut (and pool the frozen stage ends that lie
 * between) for every row, in batches, with the fused inference kernels.
 */
export function advanceToCut(
  tf: TF,
  graph: Graph,
  weights: GraphWeights,
  data: CutRows,
  from: string,
  cut: string,
  pooledMid: string[],
  batch = 64,
): CutRows {
  if (from === cut && pooledMid.length === 0) return data;
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const cutShape = byId.get(cut)!.shape;
  const midDim = pooledMid.reduce((s, id) => s + byId.get(id)!.shape.at(-1)!, 0);
  const act = new HalfRows(sizeOf(cutShape), data.act.rows);
  const frozen = new HalfRows(data.frozen.dim + midDim, data.act.rows);
  for (let at = 0; at < data.act.rows; at += batch) {
    const to = Math.min(data.act.rows, at + batch);
    const [a, m] = tf.tidy(() => {
      const x = tf.tensor(data.act.range(at, to), [to - at, ...data.shape]);
      const outs = evaluate(tf, graph, weights, new Map([[from, x as Tensor]]), [cut, ...pooledMid]);
      const pooled = outs.slice(1).map((o) => tf.mean(o, [1, 2]));
      return [tf.reshape(outs[0]!, [to - at, -1]), pooled.length ? tf.concat(pooled, 1) : tf.zeros([to - at, 0])];
    });
    const av = a!.dataSync() as Float32Array;
    const mv = m!.dataSync() as Float32Array;
    const prev = data.frozen.range(at, to);
    const row = new Float32Array(data.frozen.dim + midDim);
    for (let r = 0; r < to - at; r++) {
      act.push(av, r * act.dim);
      row.set(prev.subarray(r * data.frozen.dim, (r + 1) * data.frozen.dim), 0);
      row.set(mv.subarray(r * midDim, (r + 1) * midDim), data.frozen.dim);
      frozen.push(row);
    }
    tf.dispose([a!, m!]);
  }
  return { act: act.done(), shape: cutShape, frozen: frozen.done(), rowsPer: data.rowsPer, images: data.images };
}

/** Row indices of orientation 0 (the original images). */
export function originalRows(data: CutRows): Int32Array {
  const idx = new Int32Array(data.images);
  for (let i = 0; i < data.images; i++) idx[i] = i * data.rowsPer;
  return idx;
}

/** Batch tensors for the given rows: the cut activation [b, h, w, c] and the frozen features. */
export function rowTensors(tf: TF, data: CutRows, rows: ArrayLike<number>): { x: Tensor4D; frozen: Tensor } {
  return {
    x: tf.tensor4d(data.act.gather(rows), [rows.length, data.shape[0]!, data.shape[1]!, data.shape[2]!]),
    frozen: tf.tensor2d(data.frozen.gather(rows), [rows.length, data.frozen.dim]),
  };
}
