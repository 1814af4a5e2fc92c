/**
 * Params shared by the stages that run a backbone over images (precompute, fine-tune-backbone):
 * their JSON Schema fragments and the translation to a BackboneSpec, plus where converted models
 * are cached.
 */
import { isAbsolute, join, resolve } from 'node:path';
import { BUILTIN_BACKBONES, type BackboneSpec } from './backbones.js';
import { PREPROCESS, type Preprocess } from './image-input.js';
import { availableParallelism } from 'node:os';
import { mayBeNative, type BackendChoice } from './backend.js';

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

/** Params of stages that read images through a split: which needed stages hold what. */
export const IMAGE_INPUT_PARAMS = {
  split: {
    type: 'string',
    description:
      'needed stage with train/validation/holdout/test.jsonl and labels.json (default: the one that has them)',
  },
  images: {
    type: 'string',
    description:
      'needed stage whose folder the manifest file paths are relative to (default: the one with manifest.jsonl)',
  },
} as const;

/** Multi-scale pooling (see FeatureEngine): on by default, off for backbones that cannot fold. */
export const MULTISCALE_PARAM = {
  type: 'boolean',
  default: true,
  description:
    'also average the end of every resolution stage and join them before the final feature (foldable backbones)',
} as const;

export interface BackboneParams {
  backbone: string;
  input_size?: number;
  preprocess: Preprocess;
  cut_layer?: string;
  batch_size: number;
  workers: number | 'auto';
}

/** The BackboneSpec named by the params; a path is resolved from the working folder. */
export function backboneSpec(p: BackboneParams, workdir: string, seed: number): BackboneSpec {
  const builtin = (BUILTIN_BACKBONES as readonly string[]).includes(p.backbone);
  return {
    name: builtin ? p.backbone : isAbsolute(p.backbone) ? p.backbone : resolve(workdir, p.backbone),
    inputSize: p.input_size,
    preprocess: p.preprocess,
    cutLayer: p.cut_layer,
    seed,
  };
}

/** Worker threads to use for a backend. */
export function workerCount(p: BackboneParams, backend: string): number {
  return p.workers === 'auto' ? defaultWorkers(backend) : p.workers;
}

/**
 * Where converted backbones are cached: `$TAILOR_MODELS`, else `$TAILOR_CACHE/models`, else a
 * `models` folder in the stage's state (then each stage keeps its own copy). Never a param: the
 * location must not change a stage's key.
 */
export function modelCacheDir(state: string): string {
  if (process.env.TAILOR_MODELS) return resolve(process.env.TAILOR_MODELS);
  if (process.env.TAILOR_CACHE) return join(resolve(process.env.TAILOR_CACHE), 'models');
  return join(state, 'models');
}

/**
 * Default worker count: in-process (0) for the native backends (libtensorflow already uses every
 * core or the GPU, and loads once per process), else one per core. With `auto` a built native
 * binding decides (see FeaturePool, which also keeps a native backend in-process).
 */
export function defaultWorkers(backend: string): number {
  return mayBeNative(backend as BackendChoice) ? 0 : Math.max(1, availableParallelism());
}
