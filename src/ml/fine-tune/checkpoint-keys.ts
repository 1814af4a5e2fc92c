/**
 * fine-tune-backbone's checkpoint keys. The head phase depends only on the frozen features and
 * the head params, so its (small) checkpoint is kept and reused when only fine-tuning params
 * (N, learning rate, route...) change; the fine-tuning phase's key adds those. Both start from the
 * stage's code key.
 */
import { checkpointKey, headParamsOf } from '../head-training.js';
import type { HeadParams } from '../head-params.js';
import type { ActivationCache } from './activations.js';
import type { ValidationScale } from './validation-scale.js';
import type { FineTunePlan } from './plan.js';

export interface TuneParams {
  unfreeze: number;
  fine_tune_lr: number;
  fine_tune_epochs: number;
  fine_tune_patience: number;
  fine_tune_batch_size: number;
  crop: number;
  multiscale: boolean;
  augment: boolean;
}

export function fineTuneKeys(
  codeKey: string,
  p: HeadParams & TuneParams,
  ctx: { seed: number; labels: string[]; backboneId: string; validation: ValidationScale },
  plan: FineTunePlan,
  acts: ActivationCache,
): { head: string; tune: string } {
  const head = checkpointKey(
    codeKey,
    {
      headParams: headParamsOf(p),
      multiscale: p.multiscale,
      augment: p.augment,
      seed: ctx.seed,
      labels: ctx.labels,
      backbone: ctx.backboneId,
      ends: plan.ends,
      // The routes compute the head's features differently (cached pooled vs advanced activations).
      route: plan.route,
      unanswered: ctx.validation.unanswered,
    },
    (h) => {
      for (const s of ['train', 'validation'] as const)
        h.update((acts.images[s] ?? []).map((i) => `${i.imageId}:${i.hash}:${i.labels.join(' ')}`).join('\n'));
    },
  );
  const tune = checkpointKey(codeKey, {
    headKey: head,
    unfreeze: p.unfreeze,
    lr: p.fine_tune_lr,
    epochs: p.fine_tune_epochs,
    patience: p.fine_tune_patience,
    batch: p.fine_tune_batch_size,
    route: plan.route,
    crop: p.crop,
    flavour: plan.flavour,
  });
  return { head, tune };
}
