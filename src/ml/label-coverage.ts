/**
 * Combining models that predict different label sets (train-heads on frequency bands, or one
 * model on every label beside one on a subset). Each label is combined among the models that
 * predict it only: where one model covers a label its probability is taken as is (disjoint sets
 * are joined, which is the seed's sum of two InceptionV3 heads split at 100,000 occurrences: the
 * other head contributes nothing there), and where several do the weights are renormalised over
 * them. Labels sharing the same set of covering models form a group with one weight vector.
 *
 * When every model covers every label there is one group whose weights are used as given, so
 * the results are bit-identical to ensemble.ts's weightedMean / arithmeticMean / harmonicMean.
 */
import { HARMONIC_FLOOR, normalizeWeights, weightedMean } from './ensemble.js';

/** Which labels each model predicts: covered[model][label] is 1 or 0. */
export type Coverage = readonly Uint8Array[];

export interface CoverageGroups {
  /** Group index of each label. */
  groupOf: Int32Array;
  /** Per group, which models cover its labels (1/0 per model); group 0 is the first label's. */
  patterns: Uint8Array[];
  /** Whether every model covers every label (one full group). */
  full: boolean;
}

/** Labels grouped by the set of models covering them; a label no model covers is an internal error. */
export function coverageGroups(coverage: Coverage, labels: number): CoverageGroups {
  const M = coverage.length;
  const byKey = new Map<string, number>();
  const patterns: Uint8Array[] = [];
  const groupOf = new Int32Array(labels);
  for (let l = 0; l < labels; l++) {
    const pattern = Uint8Array.from({ length: M }, (_, j) => ((coverage[j] as Uint8Array)[l] ? 1 : 0));
    if (!pattern.includes(1)) throw new Error(`internal error: label column ${l} is predicted by no model`);
    const key = pattern.join('');
    let g = byKey.get(key);
    if (g === undefined) {
      g = patterns.length;
      byKey.set(key, g);
      patterns.push(pattern);
    }
    groupOf[l] = g;
  }
  const full = patterns.length === 1 && !(patterns[0] as Uint8Array).includes(0);
  return { groupOf, patterns, full };
}

/**
 * The weights of one group: `w` as given when the group has every model, else w restricted to the
 * covering models and scaled to sum 1 over them (equal among them when those weights are all 0).
 */
export function groupWeights(w: ArrayLike<number>, pattern: Uint8Array): Float64Array {
  if (!pattern.includes(0)) return Float64Array.from(w);
  const kept = Array.from(pattern, (c, j) => (c ? (w[j] as number) : 0));
  const out = normalizeWeights(kept);
  // normalizeWeights spreads a zero sum over every model; here only over the covering ones.
  if (!kept.some((v) => v > 0)) {
    const n = pattern.reduce((a, b) => a + b, 0);
    for (let j = 0; j < out.length; j++) out[j] = pattern[j] ? 1 / n : 0;
  }
  return out;
}

function checkShape(models: Float32Array[], labels: number): number {
  const n = models[0]?.length ?? 0;
  if (labels <= 0 || n % labels !== 0) throw new Error(`internal error: ${n} entries are not rows of ${labels} labels`);
  return n;
}

/**
 * Σ w'_m · p_m per entry, w' the weights of the entry's label group (float64 sum over models in
 * order, rounded once to float32: exactly what WeightedF1Objective scores).
 */
export function coveredWeightedMean(
  models: Float32Array[],
  weights: ArrayLike<number>,
  coverage: Coverage,
  labels: number,
): Float32Array {
  const groups = coverageGroups(coverage, labels);
  if (groups.full) return weightedMean(models, weights);
  const n = checkShape(models, labels);
  const perGroup = groups.patterns.map((p) => groupWeights(weights, p));
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const w = perGroup[groups.groupOf[i % labels] as number] as Float64Array;
    let acc = 0;
    for (let j = 0; j < models.length; j++) acc += (w[j] as number) * ((models[j] as Float32Array)[i] as number);
    out[i] = acc;
  }
  return out;
}

/** Arithmetic mean per label among the models covering it. */
export function coveredMean(models: Float32Array[], coverage: Coverage, labels: number): Float32Array {
  return coveredWeightedMean(models, normalizeWeights(new Float64Array(models.length)), coverage, labels);
}

/** Harmonic mean per label among the models covering it (each p clamped to at least HARMONIC_FLOOR). */
export function coveredHarmonic(models: Float32Array[], coverage: Coverage, labels: number): Float32Array {
  const n = checkShape(models, labels);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const l = i % labels;
    let acc = 0;
    let count = 0;
    for (let j = 0; j < models.length; j++) {
      if (!(coverage[j] as Uint8Array)[l]) continue;
      acc += 1 / Math.max(HARMONIC_FLOOR, (models[j] as Float32Array)[i] as number);
      count++;
    }
    out[i] = count / acc;
  }
  return out;
}
