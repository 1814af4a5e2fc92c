/**
 * A matrix product whose gradient is fast on the wasm backend.
 *
 * tfjs differentiates `matMul(a, b)` into products with `transposeA`/`transposeB` flags, and the
 * wasm BatchMatMul kernel runs those about 10x slower than a plain product (strided reads); the
 * fused kernel (`_FusedMatMul`, XNNPACK) is also faster than BatchMatMul without flags. Measured on
 * a 1568x320 by 320x1280 product: plain 234 ms, fused 136 ms, transposeA 2736 ms, explicit
 * transpose then fused 145 ms. So: fused forward, and gradients as explicit transposes followed
 * by fused products.
 *
 * On the native backends (tfjs-node, libtensorflow) a product with a transpose flag on `b` (one
 * BatchMatMulV2 with adj_y) beats an explicit Transpose of a large weight matrix followed by the
 * product (64x512 by the transpose of 2288x512: 5.0 ms against 21 ms, interleaved runs on 2 cores)
 * and is bit-identical to it (checked on train-head's and fine-tune's shapes), so there the input
 * gradient dy x W^T uses the flag. A flag on `a` does not pay: x^T dy with adj_x took 29 ms against
 * 13 ms for transposing the small 64x2288 `x` first, so the weight gradient keeps the explicit
 * transpose on every backend.
 */
import type { Tensor, Tensor2D } from '@tensorflow/tfjs';
import type { TF } from './backend.js';

type MatMul = (a: Tensor2D, b: Tensor2D) => Tensor2D;
/** Per tfjs namespace and backend name (the flags chosen depend on the backend). */
const cache = new WeakMap<TF, Map<string, { full: MatMul; constA: MatMul }>>();

function build(tf: TF, gradA: boolean): MatMul {
  const native = tf.getBackend() === 'tensorflow';
  // dy x y^T and x^T x dy (see above for the flag).
  const dA = (dy: Tensor2D, y: Tensor2D): Tensor2D =>
    native ? tf.matMul<Tensor2D>(dy, y, false, true) : (tf.fused.matMul({ a: dy, b: tf.transpose(y) }) as Tensor2D);
  const dB = (x: Tensor2D, dy: Tensor2D): Tensor2D => tf.fused.matMul({ a: tf.transpose(x), b: dy }) as Tensor2D;
  const f = (x: Tensor, y: Tensor, save: (ts: Tensor[]) => void) => {
    save([x, y]);
    return {
      value: tf.fused.matMul({ a: x as Tensor2D, b: y as Tensor2D }),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sx, sy] = saved as [Tensor2D, Tensor2D];
        // customGrad computes every input's gradient eagerly; skip the product for a constant `a`.
        const da = gradA ? dA(dy as Tensor2D, sy) : tf.zerosLike(sx);
        return [da, dB(sx, dy as Tensor2D)];
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
  let byBackend = cache.get(tf);
  if (!byBackend) cache.set(tf, (byBackend = new Map()));
  let fs = byBackend.get(tf.getBackend());
  if (!fs) {
    fs = { full: build(tf, true), constA: build(tf, false) };
    byBackend.set(tf.getBackend(), fs);
  }
  return (gradA ? fs.full : fs.constA)(a, b);
}
