/**
 * The threshold grid shared by ensemble-pso and threshold: candidate thresholds are k/steps for
 * k = 1..steps, and a score s counts as positive at threshold k/steps exactly when s >= k/steps.
 *
 * Counting scores into one bin per grid step (bin b holds scores in [b/steps, (b+1)/steps)) turns
 * every threshold sweep into suffix sums over `steps + 1` bins, so choosing a threshold costs
 * O(steps) after one O(n) pass instead of one O(n) pass per candidate.
 */
import { f1FromCounts } from './metrics.js';

/** Number of bins for a grid of `steps` thresholds: bins 0..steps (bin `steps` holds s >= 1). */
export const binCount = (steps: number): number => steps + 1;

/** Threshold value of grid index k (1..steps). */
export const gridThreshold = (k: number, steps: number): number => k / steps;

/** Grid edges: `edges[k] = k/steps` for k = 0..steps+1 (precomputed so binning needs no division). */
export function gridEdges(steps: number): Float64Array {
  const edges = new Float64Array(steps + 2);
  for (let k = 0; k <= steps + 1; k++) edges[k] = k / steps;
  return edges;
}

/**
 * Bin of a score with precomputed `edges = gridEdges(steps)`: the largest b in 0..steps with
 * s >= b/steps (0 for s below 1/steps or NaN). Corrected after the multiplication so bins agree
 * exactly with the `s >= k/steps` comparison used when thresholds are applied (a floating-point
 * product can land one bin off).
 */
export function gridBinAt(s: number, steps: number, edges: Float64Array): number {
  if (!(s > 0)) return 0;
  if (s >= 1) return steps;
  let b = Math.floor(s * steps);
  if (b > steps) b = steps;
  if (b < steps && s >= (edges[b + 1] as number)) b++;
  else if (b > 0 && s < (edges[b] as number)) b--;
  return b;
}

let cachedEdges = gridEdges(100);

/** `gridBinAt` with edges computed (and cached) for `steps`; convenient outside hot loops. */
export function gridBin(s: number, steps: number): number {
  if (cachedEdges.length !== steps + 2) cachedEdges = gridEdges(steps);
  return gridBinAt(s, steps, cachedEdges);
}

/** Lowest grid index whose threshold is at least `minThreshold` (1 when minThreshold <= 1/steps). */
export function gridStart(minThreshold: number, steps: number): number {
  const edges = gridEdges(steps);
  let k = 1;
  while (k < steps && (edges[k] as number) < minThreshold) k++;
  return k;
}

/** Grid index of a threshold value (nearest k/steps, clamped to 1..steps). */
export function gridIndex(threshold: number, steps: number): number {
  return Math.min(steps, Math.max(1, Math.round(threshold * steps)));
}

/** Result of a global sweep. */
export interface SweepResult {
  /** Grid index of the best threshold (1..steps). */
  k: number;
  threshold: number;
  f1: number;
  tp: number;
  fp: number;
  fn: number;
}

/**
 * Best global threshold from histograms of positive and negative scores (`pos[b]`, `neg[b]`,
 * b = 0..steps), over candidates k/steps for k = kStart..steps. `extraFn` counts true labels that
 * are negative at every candidate (e.g. pruned entries). Ties keep the higher threshold (fewer
 * predicted labels for the same F1).
 */
export function sweepHistogram(
  pos: ArrayLike<number>,
  neg: ArrayLike<number>,
  steps: number,
  extraFn = 0,
  kStart = 1,
): SweepResult {
  let totalPos = extraFn;
  for (let b = 0; b <= steps; b++) totalPos += pos[b] as number;
  let tp = 0;
  let fp = 0;
  let best: SweepResult = { k: steps, threshold: 1, f1: -1, tp: 0, fp: 0, fn: totalPos };
  for (let k = steps; k >= kStart; k--) {
    tp += pos[k] as number;
    fp += neg[k] as number;
    const f1 = f1FromCounts(tp, fp, totalPos - tp);
    if (f1 > best.f1) best = { k, threshold: gridThreshold(k, steps), f1, tp, fp, fn: totalPos - tp };
  }
  return best;
}
