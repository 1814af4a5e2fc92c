/**
 * The routes that feed fine-tune-backbone's tail phase, chosen by backend (a route is a plug: a
 * new one, such as end-to-end training on tfjs-node, is one more entry in ROUTES):
 *  - `cached`: each training image's cached activation at the cut, in a random orientation
 *    (original or mirrored, both cached); no image is decoded while training.
 *  - `images`: each step decodes its images, mirrors and shifts them (flip/crop augmentation) and
 *    runs the frozen trunk outside the gradient tape, so the tape holds only the tail
 *    (image-stream.ts); nothing per image is kept between steps.
 */
import type { Tensor, Tensor4D } from '@tensorflow/tfjs';
import { hashSeed, mulberry32 } from '../../random.js';
import type { BackendName, TF } from '../backend.js';
import type { Preprocess, RouteName } from '../choices.js';
import { rowTensors, type CutRows } from '../cut-data.js';
import type { GraphWeights } from '../graph-infer.js';
import type { CachedImage } from './activations.js';
import { TrunkFeeder, drawAugments, type CutArrays } from './image-stream.js';
import type { FineTunePlan } from './plan.js';

export type { RouteName } from '../choices.js';

/** `auto`: images on the native backends (convolution gradients and speed), cached elsewhere. */
export function chooseRoute(param: 'auto' | RouteName, backend: BackendName): RouteName {
  if (param !== 'auto') return param;
  return backend === 'tfjs-node' || backend === 'tfjs-node-gpu' ? 'images' : 'cached';
}

/** One training batch at the cut: the activation [b, h, w, c] and the frozen pooled features. */
export interface CutBatch {
  x: Tensor4D;
  frozen: Tensor;
}

/** How a route makes the tail's training batches. */
export interface TailBatches {
  /** Work off the gradient tape, started for the next batch while the current step runs. */
  prepare?(indices: Int32Array, seed: number): Promise<unknown>;
  /** The batch of training images `indices` (inside the tape), given what `prepare` returned. */
  batch(indices: Int32Array, seed: number, prepared: unknown): CutBatch;
}

export interface RouteEnv {
  tf: TF;
  plan: FineTunePlan;
  weights: GraphWeights;
  /** The cached rows of the training images (cached route only). */
  train?: CutRows;
  trainImages: readonly CachedImage[];
  backbone: { inputSize: number; preprocess: Preprocess };
  augment: boolean;
  crop: number;
}

/** The stream of random choices of one step (orientation, shifts). */
const stepRandom = (seed: number): (() => number) => mulberry32(hashSeed(seed, 'augment'));

function cachedRoute(env: RouteEnv): TailBatches {
  const train = env.train;
  if (!train) throw new Error('internal error: the cached route needs the cached rows');
  const per = train.rowsPer;
  return {
    batch(indices, seed) {
      const r = stepRandom(seed);
      const rows = Int32Array.from(indices, (i) => i * per + (per === 2 && r() < 0.5 ? 1 : 0));
      return rowTensors(env.tf, train, rows);
    },
  };
}

function imagesRoute(env: RouteEnv): TailBatches {
  const feeder = new TrunkFeeder(env.tf, env.plan, env.weights, env.backbone);
  return {
    prepare(indices, seed) {
      // Drawn here, in batch order, before any decode starts: the bytes never follow decode timing.
      const augs = env.augment ? drawAugments(indices.length, seed, env.crop) : undefined;
      return feeder.prepare(
        Array.from(indices, (i) => env.trainImages[i]!.path),
        augs,
      );
    },
    batch(_indices, _seed, prepared) {
      return feeder.tensors(prepared as CutArrays);
    },
  };
}

export const ROUTES: Record<RouteName, (env: RouteEnv) => TailBatches> = {
  cached: cachedRoute,
  images: imagesRoute,
};
