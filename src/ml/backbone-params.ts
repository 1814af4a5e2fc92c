/**
 * JSON Schema fragments of the params shared by the stages that run a backbone over images
 * (precompute, fine-tune-backbone). Constants only, so stage definitions load no ML code; the
 * translation to a BackboneSpec is in backbone-spec.ts.
 */
import type { ParamsOf } from '../stage-api.js';
import { BUILTIN_BACKBONES, PREPROCESS } from './choices.js';

export const BACKBONE_PARAMS = {
  backbone: {
    type: 'string',
    minLength: 1,
    default: 'mobilenet_v2',
    description: `${BUILTIN_BACKBONES.join(', ')}, or a path (from the working folder) to a TensorFlow.js LayersModel model.json`,
  },
  input_size: {
    type: 'integer',
    minimum: 8,
    maximum: 2048,
    description: 'square input side in px (required for a model given by path; tiny: default 32)',
  },
  preprocess: {
    type: 'string',
    enum: [...PREPROCESS],
    default: 'unit',
    description: 'pixel scaling: unit [0,1], symmetric [-1,1], caffe (BGR minus ImageNet means), raw [0,255]',
  },
  cut_layer: {
    type: 'string',
    minLength: 1,
    description: 'layer whose output is the feature (default: the global pooling)',
  },
  batch_size: { type: 'integer', minimum: 1, maximum: 512, default: 8, description: 'images per forward pass' },
  workers: {
    oneOf: [{ type: 'integer', minimum: 0, maximum: 64 }, { const: 'auto' }],
    default: 'auto',
    description:
      'worker threads, each with its own backend (auto: one per core on wasm/cpu, in-process on tfjs-node; 0: in-process)',
  },
} as const;

export type BackboneParams = ParamsOf<{ type: 'object'; properties: typeof BACKBONE_PARAMS }>;

/** Multi-scale pooling (see backbone-runner.ts): on by default, off for backbones that cannot fold. */
export const MULTISCALE_PARAM = {
  type: 'boolean',
  default: true,
  description:
    'also average the end of every resolution stage and join them before the final feature (foldable backbones)',
} as const;
