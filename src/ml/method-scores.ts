/**
 * Scoring one way of producing probabilities (a single model or a combination) the honest way:
 * the threshold is fitted on validation, the score is read on the holdout. True labels the split
 * dropped count as misses throughout.
 */
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
): MethodScore {
  const fit = fitGlobalThreshold(val.truth, valProbs, val.ids.length, nLabels, steps, minThreshold, val.missedTotal);
  const nh = hold.ids.length;
  return {
    method,
    kind,
    threshold: fit.threshold,
    validation_micro_f1: fit.f1,
    holdout_micro_f1: microF1AtThreshold(hold.truth, holdProbs, nh, nLabels, fit.threshold, hold.missed),
    holdout_example_f1: exampleF1(
      hold.truth,
      binarize(holdProbs, nh, nLabels, fit.threshold),
      nh,
      nLabels,
      hold.missed,
    ),
    holdout_micro_f1_at_0_5: microF1AtThreshold(hold.truth, holdProbs, nh, nLabels, 0.5, hold.missed),
  };
}
