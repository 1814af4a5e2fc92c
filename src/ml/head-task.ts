/**
 * Training a dense head on feature rows: batch assembly, the loss of one step, validation, and
 * batched prediction. Rows come from FeatureRows (in memory, or read from shards per batch) and labels in a
 * 0/1 matrix; only the current batch is ever expanded to float32 tensors.
 */
import type { Scalar } from '@tensorflow/tfjs';
import type { TF } from './backend.js';
import type { DenseHead } from './dense-head.js';
import type { FeatureRows } from '../formats/feature-shards.js';
import { lossOf, type LossConfig } from './losses.js';
import { microF1AtThreshold } from './metrics.js';

export interface LabelledRows {
  x: FeatureRows;
  /** 0/1 labels, rows x labels. */
  y: Uint8Array;
  /**
   * Per row, true labels outside the label space (split dropped them): counted as misses, so the
   * micro-F1 that early stopping and the plateau watch is the one every stage reports.
   */
  missed?: ArrayLike<number>;
}

/** Labels of the given rows as float32 (rows x labels). */
export function gatherLabels(y: Uint8Array, labels: number, indices: ArrayLike<number>): Float32Array {
  const out = new Float32Array(indices.length * labels);
  for (let i = 0; i < indices.length; i++) {
    const r = indices[i]!;
    for (let l = 0; l < labels; l++) out[i * labels + l] = y[r * labels + l]!;
  }
  return out;
}

/** Sigmoid probabilities of every row, computed in batches. */
export function predictHead(tf: TF, head: DenseHead, x: FeatureRows, batch = 512): Float32Array {
  const L = head.cfg.labels;
  const out = new Float32Array(x.rows * L);
  for (let at = 0; at < x.rows; at += batch) {
    const to = Math.min(x.rows, at + batch);
    const p = tf.tidy(() => tf.sigmoid(head.logits(tf.tensor2d(x.range(at, to), [to - at, x.dim]), false)));
    out.set(p.dataSync() as Float32Array, at * L);
    p.dispose();
  }
  return out;
}

/** Mean loss and micro-F1 at 0.5 of a labelled set (its `missed` labels counted as misses). */
export function evaluateHead(
  tf: TF,
  head: DenseHead,
  loss: LossConfig,
  set: LabelledRows,
  batch = 512,
): { loss: number; microF1: number; probs: Float32Array } {
  const L = head.cfg.labels;
  const n = set.x.rows;
  const probs = new Float32Array(n * L);
  let sum = 0;
  for (let at = 0; at < n; at += batch) {
    const to = Math.min(n, at + batch);
    const [l, p] = tf.tidy(() => {
      const z = head.logits(tf.tensor2d(set.x.range(at, to), [to - at, set.x.dim]), false);
      const y = tf.tensor2d(set.y.subarray(at * L, to * L), [to - at, L], 'float32');
      return [lossOf(tf, loss, z, y), tf.sigmoid(z)];
    });
    sum += (l!.dataSync()[0] ?? 0) * (to - at);
    probs.set(p!.dataSync() as Float32Array, at * L);
    tf.dispose([l!, p!]);
  }
  return { loss: n ? sum / n : 0, microF1: microF1AtThreshold(set.y, probs, n, L, 0.5, set.missed), probs };
}

/** The step loss for the trainer: one batch of rows through the head. */
export function headStepLoss(
  tf: TF,
  head: DenseHead,
  loss: LossConfig,
  train: LabelledRows,
): (indices: Int32Array, seed: number) => Scalar {
  const L = head.cfg.labels;
  return (idx, seed) => {
    const x = tf.tensor2d(train.x.gather(idx), [idx.length, train.x.dim]);
    const y = tf.tensor2d(gatherLabels(train.y, L, idx), [idx.length, L]);
    return lossOf(tf, loss, head.logits(x, true, seed), y);
  };
}
