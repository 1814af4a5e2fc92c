/**
 * The classifier head: dense ReLU layers with dropout, then one logit per label (sigmoid applied
 * in the loss and at prediction). Variables are initialised from a seeded PRNG (Glorot uniform) and
 * dropout masks are drawn with per-step seeds, so training is reproducible on a deterministic
 * backend. The output bias starts at each label's log-odds in the training set, which saves the
 * first epochs from learning label frequencies.
 */
import type { LayersModel, SymbolicTensor, Tensor, Tensor2D, Variable } from '@tensorflow/tfjs';
import type { TF } from './backend.js';
import { hashSeed, mulberry32 } from '../random.js';
import { fastMatMul } from './fast-matmul.js';

export interface HeadConfig {
  inputDim: number;
  hidden: number[];
  dropout: number;
  labels: number;
}

/** Fixed input standardisation: x' = (x - mean) * invStd, from the training rows. */
export interface Standardizer {
  mean: Float32Array;
  invStd: Float32Array;
}

/** Per-feature mean and 1/std over rows (std floored so constant features stay finite). */
export function fitStandardizer(
  rows: number,
  dim: number,
  rowAt: (from: number, to: number) => Float32Array,
): Standardizer {
  const sum = new Float64Array(dim);
  const sq = new Float64Array(dim);
  const chunk = 1024;
  for (let at = 0; at < rows; at += chunk) {
    const to = Math.min(rows, at + chunk);
    const x = rowAt(at, to);
    for (let r = 0; r < to - at; r++) {
      for (let d = 0; d < dim; d++) {
        const v = x[r * dim + d]!;
        sum[d]! += v;
        sq[d]! += v * v;
      }
    }
  }
  const mean = new Float32Array(dim);
  const invStd = new Float32Array(dim);
  for (let d = 0; d < dim; d++) {
    const m = rows ? sum[d]! / rows : 0;
    const variance = rows ? Math.max(0, sq[d]! / rows - m * m) : 0;
    mean[d] = m;
    invStd[d] = 1 / Math.sqrt(variance + 1e-6);
  }
  return { mean, invStd };
}

/** Glorot-uniform values for a [fanIn, fanOut] kernel. */
export function glorot(rand: () => number, fanIn: number, fanOut: number): Float32Array {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const a = new Float32Array(fanIn * fanOut);
  for (let i = 0; i < a.length; i++) a[i] = (rand() * 2 - 1) * limit;
  return a;
}

/** Log-odds of each label's frequency, clipped away from 0 and 1. */
export function priorLogits(y: Uint8Array, rows: number, labels: number): Float32Array {
  const out = new Float32Array(labels);
  for (let l = 0; l < labels; l++) {
    let pos = 0;
    for (let r = 0; r < rows; r++) pos += y[r * labels + l]!;
    const p = Math.min(1 - 1e-3, Math.max(1e-3, (pos + 0.5) / (rows + 1)));
    out[l] = Math.log(p / (1 - p));
  }
  return out;
}

export class DenseHead {
  private readonly norm: { mean: Tensor; invStd: Tensor } | undefined;

  private constructor(
    private readonly tf: TF,
    readonly cfg: HeadConfig,
    readonly layers: Array<{ w: Variable; b: Variable }>,
    private readonly standardizer: Standardizer | undefined,
  ) {
    this.norm = standardizer && { mean: tf.tensor1d(standardizer.mean), invStd: tf.tensor1d(standardizer.invStd) };
  }

  static create(
    tf: TF,
    cfg: HeadConfig,
    seed: number,
    outputBias?: Float32Array,
    standardizer?: Standardizer,
  ): DenseHead {
    const rand = mulberry32(hashSeed(seed, 'dense-head'));
    const sizes = [cfg.inputDim, ...cfg.hidden, cfg.labels];
    const layers = sizes.slice(1).map((out, i) => {
      const inp = sizes[i]!;
      const last = i === sizes.length - 2;
      const bias = last && outputBias ? outputBias : new Float32Array(out);
      const w = tf.tensor2d(glorot(rand, inp, out), [inp, out]);
      const b = tf.tensor1d(bias);
      const layer = { w: tf.variable(w, true), b: tf.variable(b, true) };
      tf.dispose([w, b]);
      return layer;
    });
    return new DenseHead(tf, cfg, layers, standardizer);
  }

  get variables(): Variable[] {
    return this.layers.flatMap((l) => [l.w, l.b]);
  }

  /**
   * Logits [batch, labels]; dropout only when `training`, with masks drawn from `seed`.
   * `inputGrad`: whether gradients must flow into `x` (when layers below the head train too).
   */
  logits(x: Tensor, training: boolean, seed = 0, inputGrad = false): Tensor2D {
    const tf = this.tf;
    let h = (this.norm ? tf.mul(tf.sub(x, this.norm.mean), this.norm.invStd) : x) as Tensor2D;
    this.layers.forEach((l, i) => {
      const last = i === this.layers.length - 1;
      h = tf.add(fastMatMul(tf, h, l.w as Tensor2D, i > 0 || inputGrad), l.b) as Tensor2D;
      if (!last) {
        h = tf.relu(h);
        if (training && this.cfg.dropout > 0)
          h = tf.dropout(h, this.cfg.dropout, undefined, hashSeed(seed, 'dropout', i)) as Tensor2D;
      }
    });
    return h;
  }

  /**
   * Apply the head's layers (dense/dropout/sigmoid) to a symbolic tensor of a functional model,
   * with the input standardisation folded into the first layer:
   * W' = diag(invStd) W, b' = b - (mean * invStd) W.
   */
  applyLayers(x: SymbolicTensor, prefix = 'head'): SymbolicTensor {
    const tf = this.tf;
    let h = x;
    this.layers.forEach((l, i) => {
      const last = i === this.layers.length - 1;
      const [w, b] = tf.tidy(() => {
        if (i > 0 || !this.norm) return [tf.clone(l.w), tf.clone(l.b)];
        const scaled = tf.mul(l.w, tf.reshape(this.norm.invStd, [-1, 1]));
        const shift = tf.reshape(tf.matMul(tf.reshape(tf.mul(this.norm.mean, this.norm.invStd), [1, -1]), l.w), [-1]);
        return [scaled, tf.sub(l.b, shift)];
      });
      h = tf.layers
        .dense({
          units: l.w.shape[1]!,
          activation: last ? 'sigmoid' : 'relu',
          name: `${prefix}_dense_${i}`,
          weights: [w!, b!],
        })
        .apply(h) as SymbolicTensor;
      if (!last && this.cfg.dropout > 0)
        h = tf.layers.dropout({ rate: this.cfg.dropout, name: `${prefix}_dropout_${i}` }).apply(h) as SymbolicTensor;
    });
    return h;
  }

  /** The head alone as a LayersModel: features in, probabilities out. */
  toLayersModel(): LayersModel {
    const input = this.tf.input({ shape: [this.cfg.inputDim], name: 'features' });
    // Named: tfjs otherwise numbers models per process (model1, model2...), which would make the
    // saved model.json depend on what else the process built.
    return this.tf.model({ inputs: input, outputs: this.applyLayers(input), name: 'head' });
  }

  dispose(): void {
    for (const v of this.variables) v.dispose();
    if (this.norm) this.tf.dispose([this.norm.mean, this.norm.invStd]);
  }
}
