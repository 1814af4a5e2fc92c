/**
 * One logistic regression per label on a few dense features, in plain JavaScript: the classifier
 * of split's no-CNN baseline (colour histograms), small enough (features x labels weights) that
 * full-batch Adam over tens of thousands of rows takes seconds and needs no backend.
 */

export interface LinearHead {
  /** Input width (without the bias). */
  dim: number;
  labels: number;
  /** (dim + 1) x labels, row-major; the last row is the bias. */
  w: Float64Array;
}

export interface LinearFitOptions {
  epochs: number;
  lr: number;
  /** L2 penalty on the weights (not the bias). */
  l2: number;
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

/** Logits of rows [from, to) into `out` (rows x labels). */
function logits(h: LinearHead, x: Float32Array, from: number, to: number, out: Float64Array): void {
  const { dim, labels, w } = h;
  const bias = dim * labels;
  for (let r = from; r < to; r++) {
    const o = (r - from) * labels;
    for (let l = 0; l < labels; l++) out[o + l] = w[bias + l] as number;
    for (let k = 0; k < dim; k++) {
      const v = x[r * dim + k] as number;
      if (v === 0) continue;
      const wk = k * labels;
      for (let l = 0; l < labels; l++) out[o + l] = (out[o + l] as number) + v * (w[wk + l] as number);
    }
  }
}

/** Fit by full-batch Adam on binary cross-entropy; weights start at 0, so the fit is deterministic. */
export function fitLinearHead(
  x: Float32Array,
  y: Uint8Array,
  n: number,
  dim: number,
  labels: number,
  o: LinearFitOptions,
): LinearHead {
  const h: LinearHead = { dim, labels, w: new Float64Array((dim + 1) * labels) };
  const size = h.w.length;
  const m = new Float64Array(size);
  const v = new Float64Array(size);
  const grad = new Float64Array(size);
  const z = new Float64Array(labels);
  const bias = dim * labels;
  for (let t = 1; t <= o.epochs; t++) {
    grad.fill(0);
    for (let r = 0; r < n; r++) {
      logits(h, x, r, r + 1, z);
      for (let l = 0; l < labels; l++) z[l] = sigmoid(z[l] as number) - (y[r * labels + l] as number);
      for (let k = 0; k < dim; k++) {
        const xv = x[r * dim + k] as number;
        if (xv === 0) continue;
        for (let l = 0; l < labels; l++)
          grad[k * labels + l] = (grad[k * labels + l] as number) + xv * (z[l] as number);
      }
      for (let l = 0; l < labels; l++) grad[bias + l] = (grad[bias + l] as number) + (z[l] as number);
    }
    const c1 = 1 - 0.9 ** t;
    const c2 = 1 - 0.999 ** t;
    for (let i = 0; i < size; i++) {
      const g = (grad[i] as number) / Math.max(1, n) + (i < bias ? o.l2 * (h.w[i] as number) : 0);
      m[i] = 0.9 * (m[i] as number) + 0.1 * g;
      v[i] = 0.999 * (v[i] as number) + 0.001 * g * g;
      h.w[i] = (h.w[i] as number) - (o.lr * ((m[i] as number) / c1)) / (Math.sqrt((v[i] as number) / c2) + 1e-8);
    }
  }
  return h;
}

/** Sigmoid probabilities of every row (rows x labels). */
export function predictLinearHead(h: LinearHead, x: Float32Array, n: number): Float32Array {
  const out = new Float32Array(n * h.labels);
  const z = new Float64Array(h.labels);
  for (let r = 0; r < n; r++) {
    logits(h, x, r, r + 1, z);
    for (let l = 0; l < h.labels; l++) out[r * h.labels + l] = sigmoid(z[l] as number);
  }
  return out;
}
