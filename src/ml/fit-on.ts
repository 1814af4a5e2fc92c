/**
 * What ensemble-pso and threshold fit on (`fit_on`): validation (a few hundred images on the demo
 * data), out-of-fold predictions over train (train-head `oof: true`: every training image, each
 * predicted by a model that never saw it), or both. With `both` each fit is reported on holdout
 * with its bootstrap interval and the paired difference; the one written is the out-of-fold fit,
 * by a fixed rule (the fit on more images) that never looks at holdout: choosing by holdout score
 * would make the holdout a second validation set and its figures optimistic.
 */
import type { FitSplit, LoadedModel, ScoredSet } from './scored-set.js';
import { loadScoredSet, oofMissing } from './scored-set.js';

export const FIT_ON = ['validation', 'oof', 'both'] as const;
export type FitOn = (typeof FIT_ON)[number];

/** The JSON Schema of the param (constants only: stage definitions import it). */
export const FIT_ON_PARAM = {
  enum: [...FIT_ON],
  default: 'validation',
  description:
    'What to fit on: validation, oof (out-of-fold predictions over train: train-head oof: true on every model, split folds >= 2) or both (each reported on holdout; the oof fit is written, a rule that never looks at holdout).',
} as const;

/** The fits to make, in report order. */
export function fitsOf(fitOn: FitOn): FitSplit[] {
  return fitOn === 'both' ? ['validation', 'oof'] : [fitOn];
}

/** The fit whose result is written (see the module comment). */
export function writtenFit(fitOn: FitOn): FitSplit {
  return fitOn === 'validation' ? 'validation' : 'oof';
}

/** A row or method name for a fit: the validation fit keeps the plain name, others get `@oof`. */
export function fitName(name: string, fit: FitSplit): string {
  return fit === 'validation' ? name : `${name}@${fit}`;
}

/**
 * The out-of-fold set over train when the fit needs it (an error naming the stage, its param and
 * the models without out-of-fold predictions otherwise), or when every model has one anyway
 * (`passOn`: ensemble-pso passes combined out-of-fold predictions to threshold); else undefined.
 */
export async function loadOofSet(
  stage: string,
  fitOn: FitOn,
  splitDir: string,
  labels: string[],
  models: LoadedModel[],
  passOn = false,
): Promise<ScoredSet | undefined> {
  const lacking = oofMissing(models);
  if (fitOn === 'validation' && (!passOn || lacking.length > 0)) return undefined;
  if (lacking.length > 0)
    throw new Error(
      `${stage}: param fit_on is "${fitOn}", but ${lacking.join(', ')} ${lacking.length === 1 ? 'has' : 'have'} no out-of-fold predictions (no "oof" split in predictions.json): set oof: true on ${lacking.length === 1 ? 'that train-head stage' : 'those train-head stages'} and folds >= 2 on split, or fit on validation (fine-tune-backbone writes none)`,
    );
  return loadScoredSet(splitDir, 'oof', labels, models);
}
