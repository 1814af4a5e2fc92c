/**
 * fine-tune-backbone's training data in memory: per split, the activation at the tail's cut of
 * every image (and orientation), advanced once from the cached activations; the truth matrices;
 * and the frozen trunk's pooled features the head phase trains on.
 */
import type { SplitName } from '../../formats/manifest.js';
import { FeatureMatrix } from '../../formats/features.js';
import type { TF } from '../backend.js';
import { advanceToCut, rowsFromCache, rowTensors, type CutRows } from '../cut-data.js';
import { evaluate, type GraphWeights } from '../graph-infer.js';
import { truthMatrix } from '../label-matrix.js';
import type { ActivationCache } from './activations.js';
import type { FineTunePlan } from './plan.js';

export interface FineTuneData {
  train: CutRows;
  validation: CutRows;
  holdout?: CutRows;
  test?: CutRows;
}

/** Rows of every split present, advanced from the cache point to the cut. */
export function loadCutRows(
  tf: TF,
  plan: FineTunePlan,
  weights: GraphWeights,
  acts: ActivationCache,
  rowsPer: number,
): FineTuneData {
  const byId = new Map(plan.graph.nodes.map((n) => [n.id, n]));
  const cacheShape = byId.get(plan.cacheAt)!.shape;
  const actDim = cacheShape.reduce((a, b) => a * b, 1);
  const cachedEndsDim = plan.endsCached.reduce((s, id) => s + byId.get(id)!.shape.at(-1)!, 0);
  const load = (s: SplitName): CutRows => {
    const hashes = (acts.images[s] ?? []).map((i) => i.hash);
    const raw = rowsFromCache(acts.cache, acts.modelKey, hashes, actDim, cachedEndsDim, rowsPer, cacheShape);
    return advanceToCut(tf, plan.graph, weights, raw, plan.cacheAt, plan.tail.cut, plan.endsMid);
  };
  const data: FineTuneData = {
    train: load('train'),
    validation: load('validation'),
    holdout: acts.images.holdout ? load('holdout') : undefined,
    test: acts.images.test ? load('test') : undefined,
  };
  if (data.train.images === 0) throw new Error('no training images with activations');
  if (data.validation.images === 0)
    throw new Error('no validation images with activations (needed for early stopping)');
  return data;
}

/** 0/1 truth of a split's images, in cache order. */
export function truthOf(acts: ActivationCache, s: SplitName, labels: string[]): Uint8Array {
  return truthMatrix(
    (acts.images[s] ?? []).map((i) => ({ labels: i.labels })),
    labels,
  );
}

/** Every row (all orientations). */
export function allRows(d: CutRows): Int32Array {
  return Int32Array.from({ length: d.act.rows }, (_, i) => i);
}

/** Labels repeated per orientation, for training rows of every orientation. */
export function repeatLabels(y: Uint8Array, labels: number, per: number): Uint8Array {
  const out = new Uint8Array(y.length * per);
  for (let i = 0; i < y.length / labels; i++)
    for (let r = 0; r < per; r++) out.set(y.subarray(i * labels, (i + 1) * labels), (i * per + r) * labels);
  return out;
}

/**
 * Frozen-trunk features of the given rows (fused inference kernels): the frozen pooled ends, the
 * tail's pooled ends and the final feature, joined.
 */
export function frozenFeatures(
  tf: TF,
  plan: FineTunePlan,
  weights: GraphWeights,
  d: CutRows,
  rows: Int32Array,
): FeatureMatrix {
  const parts: Float32Array[] = [];
  let dim = 0;
  for (let at = 0; at < rows.length; at += 64) {
    const idx = rows.subarray(at, Math.min(rows.length, at + 64));
    const f = tf.tidy(() => {
      const { x, frozen } = rowTensors(tf, d, idx);
      const outs = evaluate(tf, plan.graph, weights, new Map([[plan.tail.cut, x]]), plan.tailOutputs).map((o) =>
        o.rank === 4 ? tf.mean(o, [1, 2]) : o,
      );
      return tf.concat([frozen, ...outs], 1);
    });
    dim = f.shape[1]!;
    parts.push(f.dataSync() as Float32Array);
    f.dispose();
  }
  const all = new Float32Array(rows.length * dim);
  let off = 0;
  for (const part of parts) {
    all.set(part, off);
    off += part.length;
  }
  return new FeatureMatrix(rows.length, dim, all);
}
