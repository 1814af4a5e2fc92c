/**
 * ensemble-pso: combine several models' probabilities — arithmetic mean, harmonic mean, and a
 * weighted mean whose weights a particle swarm chooses to maximise micro-F1 at the best global
 * threshold (the metric itself, not log-loss). Weights and thresholds are fitted on validation,
 * on out-of-fold predictions over train (`fit_on: oof`: every model a train-head with `oof: true`)
 * or both ways (`both`: each reported as rows of methods.csv, the oof rows named method@oof, with
 * paired holdout comparisons; the oof fit is written: src/ml/fit-on.ts); every method is reported on the holdout beside each single model, with a bootstrap 95% interval
 * over holdout images, paired comparisons (PSO vs mean, chosen vs best single; a tie when the
 * interval holds 0) and margins over split's two baselines. Failed images are scored as submit
 * answers them (src/ml/scored-set.ts). Models may predict different label sets (train-head on a
 * label subset): the ensemble predicts every split label some model predicts, each combined among
 * the models predicting it with the weights renormalised over them, so disjoint sets are joined
 * (src/ml/label-coverage.ts); labels no model predicts count as misses.
 *
 * Inputs (ctx.needs): every needed folder with predictions.json is a model (param `models`
 * narrows the list); the folder with labels.json + holdout.jsonl is the split (param `split`).
 * Outputs: predictions.json (+ pred-*.f32) of the chosen method for validation, holdout and test
 * (and `oof` when every model has out-of-fold predictions, for threshold's `fit_on`);
 * weights.json; methods.csv; convergence.csv and convergence.svg; metrics.json.
 * Implementation: impl/ensemble-pso.ts.
 */
import { defineStage, type ParamsOf } from '../src/stage-api.js';
import { SPLIT_PARAM } from '../src/ml/input-params.js';
import { MAX_OBJECTIVE_STEPS } from '../src/ml/choices.js';
import { FIT_ON_PARAM } from '../src/ml/fit-on.js';

const params = {
  type: 'object',
  additionalProperties: false,
  properties: {
    swarm_size: { type: 'integer', minimum: 1, maximum: 1000, default: 20, description: 'Particles in the swarm.' },
    iterations: {
      type: 'integer',
      minimum: 0,
      maximum: 10000,
      default: 30,
      description: 'PSO update rounds after the initial swarm.',
    },
    inertia: {
      type: 'number',
      minimum: 0,
      maximum: 2,
      default: 0.72,
      description: 'Share of a particle’s velocity kept each round.',
    },
    cognitive: {
      type: 'number',
      minimum: 0,
      maximum: 5,
      default: 1.49,
      description: 'Acceleration towards each particle’s own best.',
    },
    social: {
      type: 'number',
      minimum: 0,
      maximum: 5,
      default: 1.49,
      description: 'Acceleration towards the swarm’s best.',
    },
    steps: {
      type: 'integer',
      minimum: 2,
      maximum: MAX_OBJECTIVE_STEPS,
      default: 100,
      description:
        'Threshold grid used while fitting: candidates k/steps; each set of weights is scored at its best global threshold on validation.',
    },
    min_threshold: {
      type: 'number',
      minimum: 0,
      maximum: 1,
      default: 0.05,
      description:
        'Lowest threshold considered while fitting (for every method alike). Entries below it in every model are skipped once, which makes each PSO evaluation cheaper; micro-F1 optima sit far above 0.05 in practice.',
    },
    threads: {
      type: 'integer',
      minimum: 0,
      maximum: 16,
      default: 0,
      description:
        'Threads counting each PSO evaluation (0: one per core, at most 8); each evaluation runs threaded or alone, whichever is timed faster. The result does not depend on it.',
    },
    method: {
      enum: ['pso', 'mean', 'harmonic'],
      default: 'pso',
      description: 'Which combination goes into predictions.json (all three are always reported).',
    },
    models: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      minItems: 1,
      description: 'Upstream stage names to combine; unset: every needed stage whose output holds predictions.json.',
    },
    fit_on: FIT_ON_PARAM,
    split: SPLIT_PARAM,
  },
} as const;

export type EnsembleParams = ParamsOf<typeof params>;

export default defineStage<EnsembleParams>({
  description:
    'Combine model probabilities (mean, harmonic mean, PSO weights maximising validation micro-F1); report every method on holdout',
  deterministic: true,
  params,
  load: () => import('./impl/ensemble-pso.js'),
});
