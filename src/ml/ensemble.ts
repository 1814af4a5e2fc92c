/**
 * Combining several models' probability matrices (all aligned: same images, same label columns).
 *
 * Weighted means are computed the same way everywhere — a float64 sum over models in their
 * given order, rounded once to float32 — so the score the PSO objective sees for an entry is
 * bit-identical to what `weightedMean` writes into the ensemble's predictions.
 */
import type { SweepResult } from './score-grid.js';
import { binCount, gridBin, sweepHistogram } from './score-grid.js';

/** Non-negative weights scaled to sum 1 (equal weights when they sum to 0). */
export function normalizeWeights(x: ArrayLike<number>): Float64Array {
  const w = new Float64Array(x.length);
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    const v = Math.max(0, x[i] as number);
    w[i] = v;
    sum += v;
  }
  if (!(sum > 0)) return w.fill(x.length === 0 ? 0 : 1 / x.length);
  for (let i = 0; i < w.length; i++) w[i] = (w[i] as number) / sum;
  return w;
}

function checkSameLength(models: Float32Array[]): number {
  const first = models[0];
  if (!first) throw new Error('internal error: no models to combine');
  for (const m of models) {
    if (m.length !== first.length) throw new Error(`internal error: model matrices differ in size (${m.length} vs ${first.length})`);
  }
  return first.length;
}

/** Σ w_m · p_m per entry (weights used as given; normalise them first for a mean). */
export function weightedMean(models: Float32Array[], weights: ArrayLike<number>): Float32Array {
  const n = checkSameLength(models);
  if (weights.length !== models.length) throw new Error(`internal error: ${weights.length} weights for ${models.length} models`);
  const acc = new Float64Array(n);
  models.forEach((m, j) => {
    const w = weights[j] as number;
    for (let i = 0; i < n; i++) acc[i] = (acc[i] as number) + w * (m[i] as number);
  });
  return Float32Array.from(acc);
}

/** Plain arithmetic mean. */
export function arithmeticMean(models: Float32Array[]): Float32Array {
  return weightedMean(models, normalizeWeights(new Float64Array(models.length)));
}

/** Smallest probability used by the harmonic mean, so one model's 0 does not zero the entry. */
export const HARMONIC_FLOOR = 1e-7;

/** Harmonic mean M / Σ 1/p_m (each p clamped to at least HARMONIC_FLOOR). */
export function harmonicMean(models: Float32Array[]): Float32Array {
  const n = checkSameLength(models);
  const acc = new Float64Array(n);
  for (const m of models) {
    for (let i = 0; i < n; i++) acc[i] = (acc[i] as number) + 1 / Math.max(HARMONIC_FLOOR, m[i] as number);
  }
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = models.length / (acc[i] as number);
  return out;
}

/**
 * Fast scorer of "micro-F1 at the best global grid threshold" for weighted means of fixed
 * models on fixed truth — the PSO objective.
 *
 * A weighted mean never exceeds the largest of its inputs, so an entry whose every model scores
 * below the lowest candidate threshold (1/steps) is negative for all weights and all candidates:
 * such entries are dropped once, and their true labels kept as a constant count of false
 * negatives. The rest are stored entry-major ([entry][model]) so one evaluation reads memory in
 * order.
 */
export class WeightedF1Objective {
  readonly models: number;
  readonly steps: number;
  /** Entries that can become positive for some weights. */
  readonly activeEntries: number;
  readonly totalEntries: number;
  private readonly values: Float32Array;
  private readonly truth: Uint8Array;
  private readonly prunedPositives: number;
  private readonly pos: Uint32Array;
  private readonly neg: Uint32Array;

  constructor(models: Float32Array[], truth: Uint8Array, steps: number) {
    const n = checkSameLength(models);
    if (truth.length !== n) throw new Error(`internal error: truth has ${truth.length} entries, models ${n}`);
    const M = models.length;
    // Margin below 1/steps covers float64 summation and the float32 rounding of the mean.
    const floor = (1 / steps) * (1 - 1e-6);
    let active = 0;
    const keep = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < M; j++) {
        if (((models[j] as Float32Array)[i] as number) >= floor) {
          keep[i] = 1;
          active++;
          break;
        }
      }
    }
    this.values = new Float32Array(active * M);
    this.truth = new Uint8Array(active);
    let pruned = 0;
    let a = 0;
    for (let i = 0; i < n; i++) {
      if (keep[i] === 0) {
        if (truth[i] !== 0) pruned++;
        continue;
      }
      for (let j = 0; j < M; j++) this.values[a * M + j] = (models[j] as Float32Array)[i] as number;
      this.truth[a] = truth[i] !== 0 ? 1 : 0;
      a++;
    }
    this.models = M;
    this.steps = steps;
    this.activeEntries = active;
    this.totalEntries = n;
    this.prunedPositives = pruned;
    this.pos = new Uint32Array(binCount(steps));
    this.neg = new Uint32Array(binCount(steps));
  }

  /** Best global threshold and its micro-F1 for these weights (used as given; pass normalised weights). */
  evaluate(weights: ArrayLike<number>): SweepResult {
    const M = this.models;
    if (weights.length !== M) throw new Error(`internal error: ${weights.length} weights for ${M} models`);
    const w = Float64Array.from(weights);
    const { values, truth, pos, neg, steps } = this;
    pos.fill(0);
    neg.fill(0);
    const n = this.activeEntries;
    for (let e = 0, off = 0; e < n; e++, off += M) {
      let acc = 0;
      for (let j = 0; j < M; j++) acc += (w[j] as number) * (values[off + j] as number);
      const b = gridBin(Math.fround(acc), steps);
      if (truth[e] !== 0) pos[b] = (pos[b] as number) + 1;
      else neg[b] = (neg[b] as number) + 1;
    }
    return sweepHistogram(pos, neg, steps, this.prunedPositives);
  }
}
