/**
 * fine-tune-backbone's training data: per split, the activation at the tail's cut of every image
 * (and orientation), advanced once from the cached activations (cached route only, in memory);
 * the truth matrices; and the frozen trunk's pooled features the head phase trains on (images
 * route: read from the activation cache a batch at a time).
 */
import type { SplitName } from '../../formats/manifest.js';
import { FeatureMatrix } from '../../formats/features.js';
import type { TF } from '../backend.js';
import { advanceToCut, originalRows, rowsFromCache, rowTensors, type CutRows } from '../cut-data.js';
import { evaluate, type GraphWeights } from '../graph-infer.js';
import { truthMatrix } from '../label-matrix.js';
import type { FeatureRows } from '../../formats/feature-shards.js';
import { decodeHalf, encodeHalf } from '../../util/float16.js';
import type { ActivationCache, CachedImage } from './activations.js';
import type { FineTunePlan } from './plan.js';

/** A scored split's rows at the cut, loaded a chunk of images at a time (never the whole split). */
export interface CutSource {
  images: number;
  chunk(from: number, to: number): CutRows;
}

/** The cached route's data: the training rows in memory, the scored splits streamed from the cache. */
export interface FineTuneData {
  train: CutRows;
  validation: CutSource;
  holdout?: CutSource;
  test?: CutSource;
}

/** Images per chunk when a scored split streams from the activation cache. */
export const CHUNK = 256;

/** Rows of every split present, advanced from the cache point to the cut (the cache stays open). */
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
  const load = (hashes: string[]): CutRows => {
    const raw = rowsFromCache(acts.cache, acts.modelKey, hashes, actDim, cachedEndsDim, rowsPer, cacheShape);
    return advanceToCut(tf, plan.graph, weights, raw, plan.cacheAt, plan.tail.cut, plan.endsMid);
  };
  const hashesOf = (s: SplitName): string[] => (acts.images[s] ?? []).map((i) => i.hash);
  const source = (s: SplitName): CutSource | undefined => {
    if (!acts.images[s]) return undefined;
    const hashes = hashesOf(s);
    return { images: hashes.length, chunk: (from, to) => load(hashes.slice(from, to)) };
  };
  const data: FineTuneData = {
    train: load(hashesOf('train')),
    validation: source('validation')!,
    holdout: source('holdout'),
    test: source('test'),
  };
  if (data.train.images === 0) throw new Error('no training images with activations');
  if (!data.validation?.images) throw new Error('no validation images with activations (needed for early stopping)');
  return data;
}

/**
 * Pooled frozen features of a split read from the activation cache a batch at a time (images
 * route), every orientation or the originals only. Values go through float16 as the head phase
 * has always trained on them; nothing held grows with the split but its image list (a split in
 * memory took 5.8 KB per training image: 5.9 GB at the challenge's size).
 */
class CachedPooledRows implements FeatureRows {
  readonly rows: number;
  private readonly half: Uint16Array;
  private last: { image: number; values: Float32Array } | undefined;

  constructor(
    private readonly acts: ActivationCache,
    private readonly list: readonly CachedImage[],
    readonly dim: number,
    /** Rows taken per image (orientations used) and rows stored per image. */
    private readonly per: number,
    private readonly rowsPer: number,
  ) {
    this.rows = list.length * per;
    this.half = new Uint16Array(dim);
  }

  /** The image's cached values (every stored orientation); consecutive rows of one image read it once. */
  private image(i: number): Float32Array {
    if (this.last?.image === i) return this.last.values;
    const hash = this.list[i]!.hash;
    const v = this.acts.cache.get(this.acts.modelKey, hash);
    if (!v || v.length !== this.rowsPer * this.dim)
      throw new Error(`internal error: cached features for ${hash} missing or of the wrong size`);
    this.last = { image: i, values: v };
    return v;
  }

  gather(indices: ArrayLike<number>, dst = new Float32Array(indices.length * this.dim)): Float32Array {
    const d = this.dim;
    for (let k = 0; k < indices.length; k++) {
      const r = indices[k]!;
      const o = r % this.per;
      encodeHalf(this.image((r - o) / this.per).subarray(o * d, (o + 1) * d), this.half);
      decodeHalf(this.half, dst, 0, d, k * d);
    }
    return dst;
  }

  range(from: number, to: number): Float32Array {
    return this.gather(Int32Array.from({ length: to - from }, (_, i) => from + i));
  }

  updateHash(h: { update(data: Uint8Array): unknown }): void {
    for (let i = 0; i < this.list.length; i++) {
      const halves = encodeHalf(this.image(i).subarray(0, this.per * this.dim));
      h.update(new Uint8Array(halves.buffer, halves.byteOffset, halves.byteLength));
    }
  }
}

function pooledFromCache(
  acts: ActivationCache,
  plan: FineTunePlan,
  s: SplitName,
  which: 'all' | 'original',
  rowsPer: number,
): FeatureRows | undefined {
  const list = acts.images[s];
  if (!list) return undefined;
  const byId = new Map(plan.graph.nodes.map((n) => [n.id, n]));
  const dim = [...plan.ends, plan.graph.output].reduce((sum, id) => sum + byId.get(id)!.shape.at(-1)!, 0);
  return new CachedPooledRows(acts, list, dim, which === 'all' ? rowsPer : 1, rowsPer);
}

/** What the head phase trains and scores on: frozen-trunk features per split. */
export interface HeadFeatures {
  /** Every orientation of the training images. */
  train(): FeatureRows;
  rowsPer: number;
  /** The original images of a scored split (undefined when the split is absent). */
  of(s: 'validation' | 'holdout'): FeatureRows | undefined;
}

/** Cached route: features advanced through the frozen tail from the rows at the cut. */
export function cutHeadFeatures(tf: TF, plan: FineTunePlan, weights: GraphWeights, data: FineTuneData): HeadFeatures {
  return {
    train: () => frozenFeatures(tf, plan, weights, data.train, allRows(data.train)),
    rowsPer: data.train.rowsPer,
    of: (s) => {
      const src = data[s];
      if (!src) return undefined;
      const parts: FeatureMatrix[] = [];
      for (let at = 0; at < src.images; at += CHUNK) {
        const d = src.chunk(at, Math.min(src.images, at + CHUNK));
        parts.push(frozenFeatures(tf, plan, weights, d, originalRows(d)));
      }
      return joinRows(parts);
    },
  };
}

/** Images route: the pooled features the activation cache holds. */
export function cachedHeadFeatures(acts: ActivationCache, plan: FineTunePlan, rowsPer: number): HeadFeatures {
  return {
    train: () => pooledFromCache(acts, plan, 'train', 'all', rowsPer)!,
    rowsPer,
    of: (s) => pooledFromCache(acts, plan, s, 'original', rowsPer),
  };
}

/** Stack feature matrices of the same width. */
function joinRows(parts: FeatureMatrix[]): FeatureMatrix {
  const dim = parts[0]?.dim ?? 0;
  const rows = parts.reduce((n, m) => n + m.rows, 0);
  const all = new Float32Array(rows * dim);
  let at = 0;
  for (const m of parts) {
    all.set(m.range(0, m.rows), at * dim);
    at += m.rows;
  }
  return new FeatureMatrix(rows, dim, all);
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
