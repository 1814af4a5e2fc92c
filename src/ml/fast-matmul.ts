/**
 * A matrix product whose gradient is fast on the wasm backend.
 *
 * tfjs differentiates `matMul(a, b)` into products with `transposeA`/`transposeB` flags, and the
 * wasm BatchMatMul kernel runs those about 10x slower than a plain product (strided reads); the
 * fused kernel (`_FusedMatMul`, XNNPACK) is also faster than BatchMatMul without flags. Measured on
 * a 1568x320 by 320x1280 product: plain 234 ms, fused 136 ms, transposeA 2736 ms, explicit
 * transpose then fused 145 ms. So: fused forward, and gradients as explicit transposes followed
 * by fused products.
 */
import type { Tensor, Tensor2D } from '@tensorflow/tfjs';
import type { TF } from './backend.js';

type MatMul = (a: Tensor2D, b: Tensor2D) => Tensor2D;
const cache = new WeakMap<TF, { full: MatMul; constA: MatMul }>();

function build(tf: TF, gradA: boolean): MatMul {
  const f = (x: Tensor, y: Tensor, save: (ts: Tensor[]) => void) => {
    save([x, y]);
    return {
      value: tf.fused.matMul({ a: x as Tensor2D, b: y as Tensor2D }),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sx, sy] = saved as [Tensor2D, Tensor2D];
        // customGrad computes every input's gradient eagerly; skip the product for a constant `a`.
        const da = gradA ? tf.fused.matMul({ a: dy as Tensor2D, b: tf.transpose(sy) }) : tf.zerosLike(sx);
        return [da, tf.fused.matMul({ a: tf.transpose(sx), b: dy as Tensor2D })];
      },
    };
  };
  return tf.customGrad(f as never) as unknown as MatMul;
}

/**
 * a [m, k] x b [k, n] -> [m, n], differentiable with fast gradients. `gradA: false` when `a` is a
 * constant (features, a frozen activation): its gradient, a third of the work, is then not computed.
 */
export function fastMatMul(tf: TF, a: Tensor2D, b: Tensor2D, gradA = true): Tensor2D {
  let fs = cache.get(tf);
  if (!fs) {
    fs = { full: build(tf, true), constA: build(tf, false) };
    cache.set(tf, fs);
  }
  return (gradA ? fs.full : fs.constA)(a, b);
}
