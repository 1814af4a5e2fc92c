/**
 * fine-tune-backbone: as the reference — a new head trained on the frozen backbone until it
 * converges, then the last N layers of the backbone unfrozen and trained with the head at a low
 * learning rate, with train-head's callbacks (plateau LR, early stopping, checkpoints) and outputs.
 *
 * Routes (measured seconds per epoch are in metrics.json):
 *  - `cached` (default without a native backend): the trunk's activations at the start of the last
 *    resolution stage are computed once per image (and its mirror, for flip augmentation), cached in
 *    ctx.state by image hash — reused when N or the learning rates change — and only the tail trains,
 *    with ops that have fast gradients on wasm (1x1 convs as matmuls, depthwise as shifted adds).
 *  - `images` (default on tfjs-node/-gpu): every step decodes its images, mirrors and shifts them
 *    (flip/crop augmentation), runs the frozen trunk and trains the tail: end to end on the pixels.
 * The saved model is the whole network (images in, probabilities out) as a LayersModel.
 * Activation cache and checkpoints are keyed by the stage's code key. Implementation:
 * impl/fine-tune-backbone.ts over src/ml/fine-tune/ (plan, activations, rows, checkpoint keys,
 * head phase, tail phase and its routes, outputs).
 */
import { defineStage, type ParamsOf } from '../src/stage-api.js';
import { BACKEND_PARAM } from '../src/ml/backend.js';
import { BACKBONE_PARAMS, MULTISCALE_PARAM } from '../src/ml/backbone-params.js';
import { IMAGE_INPUT_PARAMS } from '../src/ml/input-params.js';
import { HEAD_PARAMS } from '../src/ml/head-params.js';
import { ROUTE_NAMES } from '../src/ml/choices.js';

// Images per forward pass while caching activations is extract_batch_size here.
const { batch_size: _extractBatch, ...backboneParams } = BACKBONE_PARAMS;

const params = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...backboneParams,
    ...HEAD_PARAMS,
    unfreeze: {
      type: 'integer',
      minimum: 1,
      maximum: 1000,
      default: 1,
      description: 'weight layers (conv, depthwise conv) of the backbone to train, counted from its end',
    },
    fine_tune_lr: {
      type: 'number',
      exclusiveMinimum: 0,
      maximum: 1,
      default: 0.00001,
      description: 'learning rate of the fine-tuning phase',
    },
    fine_tune_epochs: {
      type: 'integer',
      minimum: 0,
      maximum: 1000,
      default: 8,
      description: 'most epochs of the fine-tuning phase (0: head only)',
    },
    fine_tune_patience: {
      type: 'integer',
      minimum: 1,
      default: 3,
      description: 'early stopping of the fine-tuning phase',
    },
    fine_tune_batch_size: { type: 'integer', minimum: 1, maximum: 4096, default: 32 },
    extract_batch_size: {
      type: 'integer',
      minimum: 1,
      maximum: 512,
      default: 8,
      description: 'images per forward pass when caching activations',
    },
    augment: {
      type: 'boolean',
      default: true,
      description: 'horizontal flips (both routes) and random shifts (images route)',
    },
    crop: {
      type: 'integer',
      minimum: 0,
      maximum: 256,
      default: 16,
      description: 'images route: largest random shift in px',
    },
    multiscale: MULTISCALE_PARAM,
    route: {
      type: 'string',
      enum: ['auto', ...ROUTE_NAMES],
      default: 'auto',
      description: 'auto: images on tfjs-node(-gpu), cached otherwise',
    },
    backend: BACKEND_PARAM,
    ...IMAGE_INPUT_PARAMS,
  },
} as const;

export type FineTuneParams = ParamsOf<typeof params>;

export default defineStage<FineTuneParams>({
  description:
    'head on the frozen backbone, then its last N layers unfrozen at a low learning rate; predictions for validation/holdout/test',
  deterministic: true,
  params,
  load: () => import('./impl/fine-tune-backbone.js'),
});
