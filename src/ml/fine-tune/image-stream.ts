/**
 * The images route's data path, batch by batch from the image files, so that no split's
 * activations are ever held whole in memory: decode, augment (flip/shift drawn from the step's
 * seed, all of a batch's draws made before any decode starts so they never follow decode timing),
 * run the frozen trunk to the tail's cut with the inference kernels (off the gradient tape), and
 * score a split through the tuned network with the next batch decoding while this one runs.
 */
import { readFile } from 'node:fs/promises';
import type { Tensor } from '@tensorflow/tfjs';
import { hashSeed, mulberry32 } from '../../random.js';
import { augmentRgb } from '../augment.js';
import type { TF } from '../backend.js';
import type { Preprocess } from '../choices.js';
import { evaluate, type GraphWeights } from '../graph-infer.js';
import { gatherLabels } from '../head-task.js';
import { decodeRgb, preprocessInto } from '../image-input.js';
import { lossOf, type LossConfig } from '../losses.js';
import type { FineTunePlan } from './plan.js';
import type { CutBatch } from './routes.js';

/** One image's augmentation. */
export interface Augment {
  flip: boolean;
  dx: number;
  dy: number;
}

/** A batch's augmentations, drawn in batch order from the step's seed before anything is decoded. */
export function drawAugments(n: number, seed: number, crop: number): Augment[] {
  const r = mulberry32(hashSeed(seed, 'augment'));
  return Array.from({ length: n }, () => ({
    flip: r() < 0.5,
    dx: Math.round((r() * 2 - 1) * crop),
    dy: Math.round((r() * 2 - 1) * crop),
  }));
}

/** A batch at the cut, as plain arrays (made off the tape, turned into tensors on it). */
export interface CutArrays {
  n: number;
  cut: Float32Array;
  frozen: Float32Array;
}

/** Decodes image files and runs the frozen trunk from pixels to the tail's cut. */
export class TrunkFeeder {
  constructor(
    private readonly tf: TF,
    private readonly plan: FineTunePlan,
    private readonly weights: GraphWeights,
    private readonly backbone: { inputSize: number; preprocess: Preprocess },
  ) {}

  /** The cut activation and frozen pooled ends of `paths` (augmented when `augs` is given). */
  async prepare(paths: readonly string[], augs?: readonly Augment[]): Promise<CutArrays> {
    const { tf, plan } = this;
    const size = this.backbone.inputSize;
    const n = paths.length;
    const pix = new Float32Array(n * size * size * 3);
    await Promise.all(
      paths.map(async (path, k) => {
        const rgb = await decodeRgb(await readFile(path), size);
        const a = augs?.[k];
        const img = a ? augmentRgb(rgb, size, a.flip, a.dx, a.dy) : rgb;
        preprocessInto(img, this.backbone.preprocess, pix, k * size * size * 3);
      }),
    );
    const [cut, frozen] = tf.tidy(() => {
      const input = tf.tensor4d(pix, [n, size, size, 3]) as Tensor;
      const outs = evaluate(tf, plan.graph, this.weights, new Map([[plan.graph.nodes[0]!.id, input]]), [
        plan.tail.cut,
        ...plan.endsCached,
        ...plan.endsMid,
      ]);
      const pooled = outs.slice(1).map((o) => tf.mean(o, [1, 2]));
      return [outs[0]!, pooled.length ? tf.concat(pooled, 1) : tf.zeros([n, 0])];
    });
    const out = { n, cut: cut!.dataSync() as Float32Array, frozen: frozen!.dataSync() as Float32Array };
    tf.dispose([cut!, frozen!]);
    return out;
  }

  /** Tensors of a prepared batch. */
  tensors(a: CutArrays): CutBatch {
    const { tf } = this;
    const [h, w, c] = this.plan.graph.nodes.find((x) => x.id === this.plan.tail.cut)!.shape as [number, number, number];
    return {
      x: tf.tensor4d(a.cut, [a.n, h, w, c]),
      frozen: tf.tensor2d(a.frozen, [a.n, a.frozen.length / a.n]),
    };
  }
}

/** What scores a batch at the cut: the tuned network's logits. */
export interface LogitsOf {
  logits(b: CutBatch, training: boolean, seed: number): Tensor;
}

/**
 * Probabilities of `paths` (original images, no augmentation) through the tuned network, and the
 * mean loss when the truth is given; one batch in memory at a time, the next one decoding.
 */
export async function evaluateImages(
  tf: TF,
  net: LogitsOf,
  feeder: TrunkFeeder,
  paths: readonly string[],
  labels: number,
  loss: LossConfig,
  y?: Uint8Array,
  batch = 32,
): Promise<{ loss: number; probs: Float32Array }> {
  const probs = new Float32Array(paths.length * labels);
  const slice = (at: number): readonly string[] => paths.slice(at, Math.min(paths.length, at + batch));
  let sum = 0;
  let next = paths.length ? feeder.prepare(slice(0)) : undefined;
  for (let at = 0; at < paths.length; at += batch) {
    const arrays = await next!;
    next = at + batch < paths.length ? feeder.prepare(slice(at + batch)) : undefined;
    const [l, pr] = tf.tidy(() => {
      const z = net.logits(feeder.tensors(arrays), false, 0);
      const idx = Int32Array.from({ length: arrays.n }, (_, i) => at + i);
      const truth = y && tf.tensor2d(gatherLabels(y, labels, idx), [arrays.n, labels]);
      return [truth ? lossOf(tf, loss, z as never, truth) : tf.scalar(0), tf.sigmoid(z)];
    });
    sum += (l!.dataSync()[0] ?? 0) * arrays.n;
    probs.set(pr!.dataSync() as Float32Array, at * labels);
    tf.dispose([l!, pr!]);
  }
  return { loss: paths.length ? sum / paths.length : 0, probs };
}
