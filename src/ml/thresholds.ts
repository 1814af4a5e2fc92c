/**
 * Decision thresholds that maximise micro-F1: a global sweep, then per-label coordinate ascent.
 *
 * One pass over the scores counts, per label, positives and negatives in each grid bin
 * (see score-grid.ts); suffix sums then give every label's TP/FP at every candidate threshold.
 * Micro-F1 depends only on the summed counts, so moving one label's threshold is scored in O(1)
 * from the totals of the other labels: a full ascent pass costs O(labels x steps), independent of
 * the number of images.
 */
import { binarize, f1FromCounts, type ScoreMatrix } from './metrics.js';
import {
  binCount,
  gridBinAt,
  gridEdges,
  gridStart,
  gridThreshold,
  sweepHistogram,
  type SweepResult,
} from './score-grid.js';

export interface ThresholdFitOptions {
  /** Grid resolution: candidates are k/steps, k = 1..steps. */
  steps: number;
  /** Labels with fewer true images than this keep the global threshold. */
  minSupport: number;
  /** Upper bound on coordinate-ascent passes (it stops earlier when a pass changes nothing). */
  maxPasses: number;
  /** True labels without a column (always false negatives; see metrics.ts `missed`). */
  extraFn?: number;
  signal?: AbortSignal;
}

export interface ThresholdFit {
  steps: number;
  /** The best single threshold for every label. */
  global: SweepResult;
  /** Per-label thresholds (column order), each a grid value k/steps. */
  thresholds: Float64Array;
  /** 1 where the label's threshold was tuned (support >= minSupport), 0 where it kept the global one. */
  tuned: Uint8Array;
  /** Number of true images per label in the fitting data. */
  support: Uint32Array;
  /** Micro-F1 on the fitting data with the per-label thresholds. */
  f1: number;
  /** Micro-F1 after the global sweep (index 0) and after each ascent pass. */
  history: number[];
}

/** Per-label suffix counts: `cumPos[l * (steps + 2) + k]` = positives of label l with score >= k/steps. */
interface LabelCounts {
  cumPos: Uint32Array;
  cumNeg: Uint32Array;
  support: Uint32Array;
  /** Summed bins over labels, for the global sweep. */
  pos: Float64Array;
  neg: Float64Array;
}

function countLabels(
  truth: Uint8Array,
  probs: ScoreMatrix,
  nImages: number,
  nLabels: number,
  steps: number,
): LabelCounts {
  const bins = binCount(steps);
  const edges = gridEdges(steps);
  const pos = new Uint32Array(nLabels * bins);
  const neg = new Uint32Array(nLabels * bins);
  for (let r = 0; r < nImages; r++) {
    const base = r * nLabels;
    for (let l = 0; l < nLabels; l++) {
      const idx = l * bins + gridBinAt(probs[base + l] as number, steps, edges);
      if (truth[base + l] !== 0) pos[idx] = (pos[idx] as number) + 1;
      else neg[idx] = (neg[idx] as number) + 1;
    }
  }
  const stride = steps + 2;
  const cumPos = new Uint32Array(nLabels * stride);
  const cumNeg = new Uint32Array(nLabels * stride);
  const support = new Uint32Array(nLabels);
  const totPos = new Float64Array(bins);
  const totNeg = new Float64Array(bins);
  for (let l = 0; l < nLabels; l++) {
    let cp = 0;
    let cn = 0;
    for (let b = steps; b >= 0; b--) {
      const p = pos[l * bins + b] as number;
      const n = neg[l * bins + b] as number;
      cp += p;
      cn += n;
      cumPos[l * stride + b] = cp;
      cumNeg[l * stride + b] = cn;
      totPos[b] = (totPos[b] as number) + p;
      totNeg[b] = (totNeg[b] as number) + n;
    }
    support[l] = cp;
  }
  return { cumPos, cumNeg, support, pos: totPos, neg: totNeg };
}

/**
 * Best single threshold on the grid (candidates k/steps >= minThreshold) for every label at once;
 * `extraFn` true labels without a column count as false negatives.
 */
export function fitGlobalThreshold(
  truth: Uint8Array,
  probs: ScoreMatrix,
  nImages: number,
  nLabels: number,
  steps: number,
  minThreshold = 0,
  extraFn = 0,
): SweepResult {
  const c = countLabels(truth, probs, nImages, nLabels, steps);
  return sweepHistogram(c.pos, c.neg, steps, extraFn, gridStart(minThreshold, steps));
}

/**
 * Fit thresholds on (truth, probs): the global sweep, then coordinate ascent over labels with
 * enough support, each step moving one label's threshold to the grid value that maximises
 * micro-F1 given all the others. Only strict improvements move a threshold, so the result is
 * deterministic and never scores below the global threshold on the fitting data.
 */
export function fitThresholds(
  truth: Uint8Array,
  probs: ScoreMatrix,
  nImages: number,
  nLabels: number,
  opts: ThresholdFitOptions,
): ThresholdFit {
  const { steps } = opts;
  const stride = steps + 2;
  const c = countLabels(truth, probs, nImages, nLabels, steps);
  const global = sweepHistogram(c.pos, c.neg, steps, opts.extraFn ?? 0);
  const k = new Int32Array(nLabels).fill(global.k);
  let tp = global.tp;
  let fp = global.fp;
  let fn = global.fn;
  const tuned = new Uint8Array(nLabels);
  for (let l = 0; l < nLabels; l++)
    tuned[l] = (c.support[l] as number) >= opts.minSupport && (c.support[l] as number) > 0 ? 1 : 0;
  const history = [global.f1];
  for (let pass = 0; pass < opts.maxPasses; pass++) {
    if (opts.signal?.aborted) throw new Error('aborted');
    let changed = false;
    for (let l = 0; l < nLabels; l++) {
      if (tuned[l] === 0) continue;
      const row = l * stride;
      const P = c.support[l] as number;
      const cur = k[l] as number;
      const tpRest = tp - (c.cumPos[row + cur] as number);
      const fpRest = fp - (c.cumNeg[row + cur] as number);
      const fnRest = fn - (P - (c.cumPos[row + cur] as number));
      let bestK = cur;
      let bestF = f1FromCounts(tp, fp, fn);
      for (let kk = 1; kk <= steps; kk++) {
        const a = c.cumPos[row + kk] as number;
        const f = f1FromCounts(tpRest + a, fpRest + (c.cumNeg[row + kk] as number), fnRest + P - a);
        if (f > bestF) {
          bestF = f;
          bestK = kk;
        }
      }
      if (bestK !== cur) {
        k[l] = bestK;
        tp = tpRest + (c.cumPos[row + bestK] as number);
        fp = fpRest + (c.cumNeg[row + bestK] as number);
        fn = fnRest + P - (c.cumPos[row + bestK] as number);
        changed = true;
      }
    }
    history.push(f1FromCounts(tp, fp, fn));
    if (!changed) break;
  }
  const thresholds = new Float64Array(nLabels);
  for (let l = 0; l < nLabels; l++) thresholds[l] = gridThreshold(k[l] as number, steps);
  return { steps, global, thresholds, tuned, support: c.support, f1: f1FromCounts(tp, fp, fn), history };
}

/**
 * Apply thresholds (one value or one per label): `score >= threshold`. With `atLeastOne`, an
 * image left without any label gets its highest-scoring label (the first on ties).
 */
export function applyThresholds(
  probs: ScoreMatrix,
  nImages: number,
  nLabels: number,
  thresholds: number | ArrayLike<number>,
  atLeastOne: boolean,
): Uint8Array {
  const pred = binarize(probs, nImages, nLabels, thresholds);
  if (!atLeastOne || nLabels === 0) return pred;
  for (let r = 0; r < nImages; r++) {
    const base = r * nLabels;
    let any = false;
    let arg = 0;
    let max = -Infinity;
    for (let l = 0; l < nLabels; l++) {
      if (pred[base + l] !== 0) {
        any = true;
        break;
      }
      const p = probs[base + l] as number;
      if (p > max) {
        max = p;
        arg = l;
      }
    }
    if (!any) pred[base + arg] = 1;
  }
  return pred;
}
