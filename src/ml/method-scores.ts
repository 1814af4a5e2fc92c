/**
 * Scoring one way of producing probabilities (a single model or a combination) the honest way:
 * the threshold is fitted on the fit set (validation, or out-of-fold predictions over train), the
 * score is read on the holdout, with its bootstrap 95% interval over holdout images. True labels
 * the split dropped count as misses throughout.
 */
import { f1Interval, imageCounts, type ImageCounts } from './bootstrap.js';
import { binarize, exampleF1, microF1AtThreshold } from './metrics.js';
import { fitGlobalThreshold } from './thresholds.js';
import type { FitSplit, ScoredSet } from './scored-set.js';

export interface MethodScore {
  method: string;
  kind: 'model' | 'ensemble';
  /** What the threshold (and an ensemble's weights) were fitted on. */
  fit: FitSplit;
  /** Best global threshold on the fit set. */
  threshold: number;
  /** micro-F1 on the fit set at that threshold (the fitted optimum). */
  fit_micro_f1: number;
  /** micro-F1 on validation at that threshold (the fit's own score when fitted on validation). */
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

export interface ScoredProbs {
  set: ScoredSet;
  probs: Float32Array;
}

/**
 * Fit the best global grid threshold (>= minThreshold) on `fit` and report the fit, validation
 * and holdout scores. `validation` is only needed when the fit set is not validation itself.
 */
export function scoreMethod(
  method: string,
  kind: MethodScore['kind'],
  sets: { fit: ScoredProbs; hold: ScoredProbs; validation?: ScoredProbs },
  nLabels: number,
  steps: number,
  minThreshold = 0,
  seed = 0,
): MethodScore {
  const { set: fs, probs: fp } = sets.fit;
  const { set: hold, probs: holdProbs } = sets.hold;
  const fit = fitGlobalThreshold(fs.truth, fp, fs.ids.length, nLabels, steps, minThreshold, fs.missedTotal);
  const nh = hold.ids.length;
  const pred = binarize(holdProbs, nh, nLabels, fit.threshold);
  const counts = imageCounts(hold.truth, pred, nh, nLabels, hold.missed);
  const ci = f1Interval(counts, seed);
  const fitName: FitSplit = fs.split === 'oof' ? 'oof' : 'validation';
  const v = sets.validation;
  return {
    method,
    kind,
    fit: fitName,
    threshold: fit.threshold,
    fit_micro_f1: fit.f1,
    validation_micro_f1:
      fitName === 'validation' || !v
        ? fit.f1
        : microF1AtThreshold(v.set.truth, v.probs, v.set.ids.length, nLabels, fit.threshold, v.set.missed),
    holdout_micro_f1: microF1AtThreshold(hold.truth, holdProbs, nh, nLabels, fit.threshold, hold.missed),
    holdout_example_f1: exampleF1(hold.truth, pred, nh, nLabels, hold.missed),
    holdout_micro_f1_at_0_5: microF1AtThreshold(hold.truth, holdProbs, nh, nLabels, 0.5, hold.missed),
    holdout_ci_low: ci.lo,
    holdout_ci_high: ci.hi,
    holdout_counts: counts,
  };
}
