/**
 * Adam, written out so that its whole state (moments and step) can be checkpointed and restored
 * exactly — a resumed run then continues bit for bit where the interrupted one stopped — and the
 * learning rate changed between steps by the plateau schedule.
 */
import type { Tensor, Variable } from '@tensorflow/tfjs';
import type { TF } from './backend.js';

export class Adam {
  step = 0;
  private readonly m: Variable[];
  private readonly v: Variable[];
  /** beta1, 1 - beta1, beta2, 1 - beta2, eps as tensors, made once (the same float32 values a number operand becomes). */
  private readonly k: Tensor[];

  constructor(
    private readonly tf: TF,
    private readonly params: Variable[],
    public lr: number,
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly eps = 1e-7,
  ) {
    this.m = params.map((p) => tf.variable(tf.zerosLike(p), false));
    this.v = params.map((p) => tf.variable(tf.zerosLike(p), false));
    this.k = [beta1, 1 - beta1, beta2, 1 - beta2, eps].map((x) => tf.scalar(x));
  }

  /** One update with gradients in the order of `params`. */
  apply(grads: Tensor[]): void {
    const { tf, beta1, beta2 } = this;
    const [b1, ob1, b2, ob2, eps] = this.k as [Tensor, Tensor, Tensor, Tensor, Tensor];
    this.step++;
    const c1 = 1 - beta1 ** this.step;
    const c2 = 1 - beta2 ** this.step;
    const alpha = (this.lr * Math.sqrt(c2)) / c1;
    tf.tidy(() => {
      this.params.forEach((p, i) => {
        const g = grads[i];
        if (!g) return;
        const m = this.m[i]!;
        const v = this.v[i]!;
        const m2 = tf.add(tf.mul(m, b1), tf.mul(g, ob1));
        const v2 = tf.add(tf.mul(v, b2), tf.mul(tf.square(g), ob2));
        m.assign(m2);
        v.assign(v2);
        p.assign(tf.sub(p, tf.div(tf.mul(m2, alpha), tf.add(tf.sqrt(v2), eps))));
      });
    });
  }

  /** Moments as arrays (m then v, in params order). */
  state(): Float32Array[] {
    return [...this.m, ...this.v].map((t) => Float32Array.from(t.dataSync() as Float32Array));
  }

  restore(arrays: Float32Array[], step: number): void {
    const all = [...this.m, ...this.v];
    if (arrays.length !== all.length)
      throw new Error(`internal error: ${arrays.length} optimizer arrays for ${all.length} slots`);
    all.forEach((t, i) => t.assign(this.tf.tensor(arrays[i]!, t.shape)));
    this.step = step;
  }

  dispose(): void {
    for (const t of [...this.m, ...this.v, ...this.k]) t.dispose();
  }
}
