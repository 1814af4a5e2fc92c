/**
 * split — train / validation / holdout / test sets for the models, with multi-label iterative
 * stratification, the label space, label-frequency tables and pictures, and a trivial baseline.
 *
 * Input: the upstream `manifest.jsonl` (pad's or fetch's; `from` picks one of several upstream
 * stages). Images of the `validation` set are split into validation and holdout (`holdout_share`
 * of them, kept for honest final scores), stratified so every label keeps its proportions; when the
 * input has no validation images, `validation_share` of train is carved out first the same way.
 * Failed images (lines with `error`) leave train/validation/holdout; test keeps every image, errors
 * included, because a submission needs a row for each.
 *
 * Outputs: `train.jsonl validation.jsonl holdout.jsonl test.jsonl` (input lines unchanged: labels
 * are the full truth, dropped labels included, so scores count them as misses), `labels.json` (the
 * label ids with at least `min_label_count` training images, in model order), `label-frequency.csv`,
 * `label-distribution.svg` (train beside validation), `folds/fold-<i>.jsonl` when `folds` is
 * set (a stratified k-fold partition of train), and metrics with the best "predict the k most
 * frequent labels" baseline: `{"baseline":{"holdout_micro_f1","validation_micro_f1","k"}}`.
 * Implementation: impl/split.ts.
 */
import { defineStage, type ParamsOf } from '../src/stage-api.js';

const params = {
  type: 'object',
  additionalProperties: false,
  properties: {
    holdout_share: {
      type: 'number',
      minimum: 0,
      maximum: 1,
      default: 0.5,
      description: 'share of validation kept as holdout',
    },
    min_label_count: {
      type: 'integer',
      minimum: 1,
      default: 10,
      description: 'labels with fewer training images are dropped (reference: 500)',
    },
    seed: { type: 'integer', minimum: 0, description: 'seed of the stratification ties (default: the stage seed)' },
    folds: {
      type: 'integer',
      minimum: 0,
      maximum: 100,
      default: 0,
      description: 'also write a stratified k-fold partition of train (0 = none)',
    },
    validation_share: {
      type: 'number',
      exclusiveMinimum: 0,
      exclusiveMaximum: 1,
      default: 0.1,
      description: 'share of train used as validation+holdout when the input has no validation images',
    },
    from: {
      type: 'string',
      minLength: 1,
      description: 'upstream stage holding the manifest (when there are several)',
    },
    manifest: { type: 'string', minLength: 1, default: 'manifest.jsonl' },
    label_map: {
      type: 'string',
      minLength: 1,
      description:
        'label map CSV (labelId,taskId,labelName,taskName) for names in the tables: a path from the working folder (list it under deps too); unset: label-map.csv of an upstream stage, if any',
    },
  },
} as const;

export type SplitParams = ParamsOf<typeof params>;

export default defineStage<SplitParams>({
  description: 'Stratified train/validation/holdout/test sets, label space, label frequencies, top-k baseline',
  deterministic: true,
  params,
  load: () => import('./impl/split.js'),
});
