/**
 * train-head: a classifier on precomputed features — dense ReLU layers with dropout to one sigmoid
 * per label; BCE, class-weighted BCE or focal loss; Adam; learning rate reduced on a
 * validation-loss plateau; early stopping; a checkpoint each epoch (resumed after an interrupt);
 * seeded. It predicts every label of the split, or a subset (`min_count` / `max_count` over the
 * training counts, or a `labels` list: src/ml/label-subset.ts); predictions.json and metrics.json
 * say which, and true labels outside the subset count as misses in its own scores. Writes the head as a TensorFlow.js LayersModel, probabilities for validation, holdout
 * and test, per-epoch records and a learning-curve picture. Checkpoints are kept in ctx.state under
 * a key of the params, seed, features and code key. With `oof: true` it also writes out-of-fold
 * predictions over train (split `oof` of predictions.json): split's folds (its param `folds`), one
 * head per fold trained on the other folds with the same recipe and seed, each predicting its own
 * fold (src/ml/out-of-fold.ts); the split stage must then be among the needs (param `split`
 * names it when several are). Implementation: impl/train-head.ts.
 */
import { defineStage, type ParamsOf } from '../src/stage-api.js';
import { BACKEND_PARAM } from '../src/ml/backend.js';
import { HEAD_PARAMS } from '../src/ml/head-params.js';
import { LABEL_SUBSET_PARAMS } from '../src/ml/label-subset.js';
import { SPLIT_PARAM } from '../src/ml/input-params.js';

const params = {
  type: 'object',
  additionalProperties: false,
  properties: {
    features: {
      type: 'string',
      minLength: 1,
      description: 'needed precompute stage; unset: the one with features.json',
    },
    ...HEAD_PARAMS,
    ...LABEL_SUBSET_PARAMS,
    backend: BACKEND_PARAM,
    oof: {
      type: 'boolean',
      default: false,
      description:
        "also write out-of-fold predictions over train (split `oof`): one head per fold of split's folds/, each predicting the fold it left out; needs split among the needs, with split's param folds >= 2",
    },
    split: { ...SPLIT_PARAM, description: `oof only: ${SPLIT_PARAM.description}` },
  },
} as const;

export type TrainHeadParams = ParamsOf<typeof params>;

export default defineStage<TrainHeadParams>({
  description:
    'dense head (dropout, sigmoid per label) trained on precomputed features; predictions for validation/holdout/test',
  deterministic: true,
  params,
  load: () => import('./impl/train-head.js'),
});
