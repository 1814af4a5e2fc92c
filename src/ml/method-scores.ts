/**
 * Scoring one way of producing probabilities (a single model or a combination) the honest way:
 * the threshold is fitted on validation, the score is read on the holdout, with its bootstrap 95%
 * interval over holdout images. True labels the split dropped count as misses throughout.
 */
import { f1Interval, imageCounts, type ImageCounts } from './bootstrap.js';
import { binarize, exampleF1, microF1AtThreshold } from './metrics.js';
import { fitGlobalThreshold } from './thresholds.js';
import type { ScoredSet } from './scored-set.js';

export interface MethodScore {
  method: string;
  kind: 'model' | 'ensemble';
  /** Best global threshold on validation. */
  threshold: number;
  validation_micro_f1: number;
  holdout_micro_f1: number;
  holdout_example_f1: number;
  /** Holdout micro-F1 at the fixed threshold 0.5, for reference. */
  holdout_micro_f1_at_0_5: number;
  /** Bootstrap 95% interval of holdout_micro_f1 (seeded: the same for every run). */
  holdout_ci_low: number;
  holdout_ci_high: number;
  /** Per holdout image (tp, fp, fn) at the fitted threshold: for paired comparisons. */
  holdout_counts: ImageCounts;
}

/** Fit the best global grid threshold (>= minThreshold) on validation and report validation and holdout scores. */
export function scoreMethod(
  method: string,
  kind: MethodScore['kind'],
  val: ScoredSet,
  valProbs: Float32Array,
  hold: ScoredSet,
  holdProbs: Float32Array,
  nLabels: number,
  steps: number,
  minThreshold = 0,
  seed = 0,
): MethodScore {
  const fit = fitGlobalThreshold(val.truth, valProbs, val.ids.length, nLabels, steps, minThreshold, val.missedTotal);
  const nh = hold.ids.length;
  const pred = binarize(holdProbs, nh, nLabels, fit.threshold);
  const counts = imageCounts(hold.truth, pred, nh, nLabels, hold.missed);
  const ci = f1Interval(counts, seed);
  return {
    method,
    kind,
    threshold: fit.threshold,
    validation_micro_f1: fit.f1,
    holdout_micro_f1: microF1AtThreshold(hold.truth, holdProbs, nh, nLabels, fit.threshold, hold.missed),
    holdout_example_f1: exampleF1(hold.truth, pred, nh, nLabels, hold.missed),
    holdout_micro_f1_at_0_5: microF1AtThreshold(hold.truth, holdProbs, nh, nLabels, 0.5, hold.missed),
    holdout_ci_low: ci.lo,
    holdout_ci_high: ci.hi,
    holdout_counts: counts,
  };
}
