/**
 * submit: the Kaggle file. Every test image of the original test JSON gets one row, ordered by
 * numeric id: labels from the thresholded test probabilities, or — for images without a
 * prediction (failed download) — the label-prior guess or nothing, as param `failed` says.
 * The written file is read back and must give the same rows.
 *
 * Inputs (ctx.needs): the threshold stage (thresholds.json), the predictions producer those
 * thresholds were fitted on (predictions.json; checked by fingerprint), the split (labels,
 * test.jsonl, label frequencies). The test image list: param `test_json` (a workspace path — also
 * list it under `deps`), else a needed stage's `test.json` (e.g. mosaic; param `test_source` picks
 * one), else the split's test.jsonl (which keeps failed images as error lines).
 * Outputs: submission.csv, failed.csv (image_id,reason), metrics.json (counts).
 * Implementation: impl/submit.ts.
 */
import { defineStage, type ParamsOf } from '../src/stage-api.js';
import { SPLIT_PARAM } from '../src/ml/input-params.js';

const params = {
  type: 'object',
  additionalProperties: false,
  properties: {
    failed: {
      enum: ['priors', 'empty'],
      default: 'priors',
      description:
        'Labels for test images without a prediction (failed download): "priors" = the k most frequent labels, k best on validation; "empty" = none.',
    },
    test_json: {
      type: 'string',
      minLength: 1,
      description:
        'Path (from the working folder) of the original iMaterialist test JSON whose every image gets a row; list it under deps too. Unset: see test_source.',
    },
    test_source: {
      type: 'string',
      minLength: 1,
      description:
        "Upstream stage whose output holds test.json (e.g. mosaic). Unset: the only needed stage with a test.json, else the split's test.jsonl.",
    },
    thresholds: {
      type: 'string',
      minLength: 1,
      description: 'Upstream threshold stage; unset: the needed stage whose output holds thresholds.json.',
    },
    predictions: {
      type: 'string',
      minLength: 1,
      description:
        'Upstream predictions producer; unset: the one the thresholds were fitted on when it is needed, else the only needed stage with predictions.json.',
    },
    split: SPLIT_PARAM,
  },
} as const;

export type SubmitParams = ParamsOf<typeof params>;

export default defineStage<SubmitParams>({
  description:
    'Write the Kaggle submission.csv: one row per test image (failed images from label priors or empty), checked by reading it back',
  deterministic: true,
  params,
  load: () => import('./impl/submit.js'),
});
