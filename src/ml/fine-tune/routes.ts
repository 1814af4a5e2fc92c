/**
 * The routes that feed fine-tune-backbone's tail phase, chosen by backend (a route is a plug: a
 * new one, such as end-to-end training on tfjs-node, is one more entry in ROUTES):
 *  - `cached`: each training image's cached activation at the cut, in a random orientation
 *    (original or mirrored, both cached); no image is decoded while training.
 *  - `images`: each step decodes its images, mirrors and shifts them (flip/crop augmentation) and
 *    runs the frozen trunk outside the gradient tape, so the tape holds only the tail.
 */
import { readFile } from 'node:fs/promises';
import type { Tensor, Tensor4D } from '@tensorflow/tfjs';
import { hashSeed, mulberry32 } from '../../random.js';
import { augmentRgb } from '../augment.js';
import type { BackendName, TF } from '../backend.js';
import type { Preprocess, RouteName } from '../choices.js';
import { rowTensors, type CutRows } from '../cut-data.js';
import { evaluate, type GraphWeights } from '../graph-infer.js';
import { decodeRgb, preprocessInto } from '../image-input.js';
import type { CachedImage } from './activations.js';
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
  train: CutRows;
  trainImages: readonly CachedImage[];
  backbone: { inputSize: number; preprocess: Preprocess };
  augment: boolean;
  crop: number;
}

/** The stream of random choices of one step (orientation, shifts). */
const stepRandom = (seed: number): (() => number) => mulberry32(hashSeed(seed, 'augment'));

function cachedRoute(env: RouteEnv): TailBatches {
  const per = env.train.rowsPer;
  return {
    batch(indices, seed) {
      const r = stepRandom(seed);
      const rows = Int32Array.from(indices, (i) => i * per + (per === 2 && r() < 0.5 ? 1 : 0));
      return rowTensors(env.tf, env.train, rows);
    },
  };
}

function imagesRoute(env: RouteEnv): TailBatches {
  const { tf, plan, weights } = env;
  const size = env.backbone.inputSize;
  return {
    async prepare(indices, seed) {
      const r = stepRandom(seed);
      const pix = new Float32Array(indices.length * size * size * 3);
      await Promise.all(
        Array.from(indices, async (i, k) => {
          const rgb = await decodeRgb(await readFile(env.trainImages[i]!.path), size);
          const flip = env.augment && r() < 0.5;
          const dx = env.augment ? Math.round((r() * 2 - 1) * env.crop) : 0;
          const dy = env.augment ? Math.round((r() * 2 - 1) * env.crop) : 0;
          preprocessInto(augmentRgb(rgb, size, flip, dx, dy), env.backbone.preprocess, pix, k * size * size * 3);
        }),
      );
      const [cut, frozen] = tf.tidy(() => {
        const input = tf.tensor4d(pix, [indices.length, size, size, 3]) as Tensor;
        const outs = evaluate(tf, plan.graph, weights, new Map([[plan.graph.nodes[0]!.id, input]]), [
          plan.tail.cut,
          ...plan.endsCached,
          ...plan.endsMid,
        ]);
        const pooled = outs.slice(1).map((o) => tf.mean(o, [1, 2]));
        return [outs[0]!, pooled.length ? tf.concat(pooled, 1) : tf.zeros([indices.length, 0])];
      });
      const out = { cut: cut!.dataSync() as Float32Array, frozen: frozen!.dataSync() as Float32Array };
      tf.dispose([cut!, frozen!]);
      return out;
    },
    batch(indices, _seed, prepared) {
      const { cut, frozen } = prepared as { cut: Float32Array; frozen: Float32Array };
      const [h, w, c] = env.train.shape as [number, number, number];
      return {
        x: tf.tensor4d(cut, [indices.length, h, w, c]),
        frozen: tf.tensor2d(frozen, [indices.length, frozen.length / indices.length]),
      };
    },
  };
}

export const ROUTES: Record<RouteName, (env: RouteEnv) => TailBatches> = {
  cached: cachedRoute,
  images: imagesRoute,
};
