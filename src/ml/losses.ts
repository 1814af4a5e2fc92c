/**
 * Multi-label losses on logits (one sigmoid per label), numerically stable:
 *  - `bce`: binary cross-entropy, mean over examples and labels;
 *  - `weighted_bce`: positives of label j weighted by w_j = clip(sqrt(neg_j / pos_j), 1, max), so
 *    rare labels are not drowned by their negatives (the reference's "custom loss" idea);
 *  - `focal`: (1 - p_t)^gamma * BCE (Lin et al.), down-weighting easy examples.
 */
import type { Scalar, Tensor } from '@tensorflow/tfjs';
import type { TF } from './backend.js';

import type { LossName } from './choices.js';

export interface LossConfig {
  name: LossName;
  /** focal: focusing exponent. */
  gamma: number;
  /** weighted_bce: per-label positive weights (length = labels). */
  posWeight?: Float32Array;
}

/** Per-label positive weights from label counts in the training set. */
export function positiveWeights(y: Uint8Array, rows: number, labels: number, max: number): Float32Array {
  const pos = new Float64Array(labels);
  for (let r = 0; r < rows; r++) for (let l = 0; l < labels; l++) pos[l]! += y[r * labels + l]!;
  const w = new Float32Array(labels);
  for (let l = 0; l < labels; l++) {
    const p = pos[l]!;
    w[l] = p === 0 ? 1 : Math.min(max, Math.max(1, Math.sqrt((rows - p) / p)));
  }
  return w;
}

/** Element-wise BCE on logits z and targets y: max(z,0) - z*y + log(1 + exp(-|z|)). */
export function bceElements(tf: TF, z: Tensor, y: Tensor): Tensor {
  return tf.add(tf.sub(tf.relu(z), tf.mul(z, y)), tf.log1p(tf.exp(tf.neg(tf.abs(z)))));
}

/** The scalar training loss. */
export function lossOf(tf: TF, cfg: LossConfig, z: Tensor, y: Tensor): Scalar {
  const ce = bceElements(tf, z, y);
  switch (cfg.name) {
    case 'bce':
      return tf.mean(ce) as Scalar;
    case 'weighted_bce': {
      if (!cfg.posWeight) throw new Error('internal error: weighted_bce without weights');
      // weight = 1 for negatives, w_j for positives: 1 + (w_j - 1) * y
      const w = tf.add(1, tf.mul(tf.sub(tf.tensor1d(cfg.posWeight), 1), y));
      return tf.mean(tf.mul(ce, w)) as Scalar;
    }
    case 'focal': {
      const p = tf.sigmoid(z);
      // p_t = p for positives, 1 - p for negatives
      const pt = tf.add(tf.mul(p, y), tf.mul(tf.sub(1, p), tf.sub(1, y)));
      return tf.mean(tf.mul(tf.pow(tf.sub(1, pt), cfg.gamma), ce)) as Scalar;
    }
  }
}
