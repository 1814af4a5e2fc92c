/**
 * Params of a classifier head and its training schedule, shared by train-head and
 * fine-tune-backbone (whose first phase trains the same head on the frozen trunk): the JSON
 * Schema fragment (constants only: stage definitions import it) and its translation to a Schedule.
 */
import type { ParamsOf } from '../stage-api.js';
import { LOSSES, MONITORS } from './choices.js';
import type { Schedule } from './trainer.js';

export const HEAD_PARAMS = {
  hidden: {
    type: 'array',
    items: { type: 'integer', minimum: 1, maximum: 16384 },
    maxItems: 4,
    default: [256],
    description: 'units of the hidden dense ReLU layers',
  },
  standardize: {
    type: 'boolean',
    default: true,
    description: 'scale each feature to zero mean, unit variance (from the training rows) before the head',
  },
  dropout: { type: 'number', minimum: 0, maximum: 0.95, default: 0.5, description: 'dropout after each hidden layer' },
  loss: {
    type: 'string',
    enum: [...LOSSES],
    default: 'weighted_bce',
    description: 'bce, weighted_bce (rare labels weighted up) or focal',
  },
  focal_gamma: { type: 'number', minimum: 0, maximum: 10, default: 2, description: 'focal loss exponent' },
  pos_weight_max: {
    type: 'number',
    minimum: 1,
    maximum: 1000,
    default: 10,
    description: "weighted_bce: cap of a label's positive weight sqrt(neg/pos)",
  },
  epochs: {
    type: 'integer',
    minimum: 1,
    maximum: 10000,
    default: 60,
    description: 'most epochs (early stopping usually ends sooner)',
  },
  batch_size: { type: 'integer', minimum: 1, maximum: 65536, default: 64 },
  learning_rate: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.001, description: 'Adam learning rate' },
  lr_factor: {
    type: 'number',
    exclusiveMinimum: 0,
    maximum: 1,
    default: 0.5,
    description: 'learning-rate multiplier on a validation-loss plateau',
  },
  lr_patience: {
    type: 'integer',
    minimum: 1,
    default: 3,
    description: 'epochs without a better validation loss before the learning rate drops',
  },
  min_lr: { type: 'number', minimum: 0, default: 0.00001 },
  patience: {
    type: 'integer',
    minimum: 1,
    default: 8,
    description: 'early stopping: epochs without a better monitored value',
  },
  monitor: {
    type: 'string',
    enum: [...MONITORS],
    default: 'val_micro_f1',
    description:
      'picks the best epoch and stops early: validation micro-F1 at 0.5 or validation loss (the learning-rate plateau always watches the loss)',
  },
} as const;

export type HeadParams = ParamsOf<{ type: 'object'; properties: typeof HEAD_PARAMS }>;

export function scheduleOf(p: HeadParams): Schedule {
  return {
    epochs: p.epochs,
    batchSize: p.batch_size,
    lr: p.learning_rate,
    lrFactor: p.lr_factor,
    lrPatience: p.lr_patience,
    minLr: p.min_lr,
    patience: p.patience,
    monitor: p.monitor,
  };
}
