/**
 * The simplest honest baseline of a multi-label task: predict the same k most frequent training
 * labels for every image. k is chosen on validation, the score reported on holdout. From label
 * counts alone: predicting set S for n images with T true pairs gives TP = Σ_{l∈S} count(l),
 * FP = |S|·n − TP, FN = T − TP.
 */
import { f1FromCounts } from '../ml/metrics.js';

/** Label counts of one evaluation set. */
export interface SetCounts {
  images: number;
  /** All true image-label pairs (labels outside the model's label space included: they are misses). */
  truePairs: number;
  /** Images carrying each label, by label id. */
  count(label: string): number;
}

/** micro-F1 of predicting `labels` for every image of the set. */
export function constantPredictionF1(labels: readonly string[], set: SetCounts): number {
  let tp = 0;
  for (const l of labels) tp += set.count(l);
  return f1FromCounts(tp, labels.length * set.images - tp, set.truePairs - tp);
}

export interface TopKBaseline {
  k: number;
  validation_micro_f1: number;
  holdout_micro_f1: number;
}

/** Best k (0..maxK) on validation for labels ranked by training frequency; score on holdout. */
export function topKBaseline(
  ranked: readonly string[],
  validation: SetCounts,
  holdout: SetCounts,
  maxK = 50,
): TopKBaseline {
  let best: TopKBaseline = { k: 0, validation_micro_f1: 0, holdout_micro_f1: 0 };
  for (let k = 1; k <= Math.min(maxK, ranked.length); k++) {
    const top = ranked.slice(0, k);
    const v = constantPredictionF1(top, validation);
    if (v > best.validation_micro_f1)
      best = { k, validation_micro_f1: v, holdout_micro_f1: constantPredictionF1(top, holdout) };
  }
  return best;
}
