/**
 * threshold: choose the decision thresholds that turn probabilities into labels — a global sweep,
 * then per-label coordinate ascent on micro-F1 (labels with little support keep the global one),
 * fitted on validation, on out-of-fold predictions over train (`fit_on: oof`: the predictions
 * folder must hold an `oof` split, from a train-head with `oof: true` or an ensemble-pso over such
 * heads) or both ways (`both`: fits.csv and the metrics report each on holdout with paired
 * comparisons; the oof fit is written: src/ml/fit-on.ts), and reported on holdout beside the fixed
 * and global thresholds, with a
 * bootstrap 95% interval and paired comparisons (per-label vs global, global vs fixed: a tie when
 * the interval holds 0), margins over split's baselines, failed images scored as submit answers them.
 *
 * Inputs (ctx.needs): one predictions producer (a model or ensemble-pso: a folder with
 * predictions.json; param `predictions` picks one when several are needed) and the split (param
 * `split`); thresholds are fitted for the split's labels the predictions cover (a head on a label
 * subset covers fewer; the rest count as misses). Outputs: thresholds.json (read by submit),
 * labels.csv (per label: support, threshold, F1), fits.csv (fixed, global and per-label of each
 * fit on validation and holdout, with intervals), per-label-f1.svg, metrics.json. Implementation: impl/threshold.ts.
 */
import { defineStage, type ParamsOf } from '../src/stage-api.js';
import { SPLIT_PARAM } from '../src/ml/input-params.js';
import { FIT_ON_PARAM } from '../src/ml/fit-on.js';

const params = {
  type: 'object',
  additionalProperties: false,
  properties: {
    mode: {
      enum: ['per-label', 'global', 'fixed'],
      default: 'per-label',
      description:
        'Thresholds written for submit: per-label (fitted), global (one fitted value) or fixed (param `fixed`). All three are reported.',
    },
    steps: {
      type: 'integer',
      minimum: 2,
      maximum: 10000,
      default: 100,
      description: 'Threshold grid: candidates k/steps, k = 1..steps.',
    },
    min_support: {
      type: 'integer',
      minimum: 1,
      default: 20,
      description:
        'Labels with fewer validation images than this keep the global threshold (too few to fit one reliably).',
    },
    max_passes: {
      type: 'integer',
      minimum: 0,
      maximum: 1000,
      default: 10,
      description: 'Most coordinate-ascent passes over the labels (stops earlier when a pass changes nothing).',
    },
    fixed: {
      type: 'number',
      exclusiveMinimum: 0,
      maximum: 1,
      default: 0.5,
      description: 'The fixed threshold reported for comparison, and used in mode "fixed".',
    },
    at_least_one: {
      type: 'boolean',
      default: false,
      description: 'Give an image its most probable label when no label reaches its threshold.',
    },
    predictions: {
      type: 'string',
      minLength: 1,
      description: 'Upstream stage whose predictions.json to threshold; unset: the only needed stage that has one.',
    },
    fit_on: FIT_ON_PARAM,
    split: SPLIT_PARAM,
  },
} as const;

export type ThresholdParams = ParamsOf<typeof params>;

export default defineStage<ThresholdParams>({
  description:
    'Fit decision thresholds on validation (global sweep, then per-label coordinate ascent on micro-F1); report on holdout',
  deterministic: true,
  params,
  load: () => import('./impl/threshold.js'),
});
