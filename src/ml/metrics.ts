/**
 * Multi-label classification metrics on dense, row-major matrices.
 *
 * Every function takes matrices of `nImages x nLabels` values laid out row by row
 * (`m[i * nLabels + l]` is image i, label l):
 * - `truth`: 0/1 ground truth (`Uint8Array`, any non-zero value counts as 1);
 * - `pred`: 0/1 predictions (`Uint8Array`), or
 * - `probs`: scores (`Float32Array`/`Float64Array`) turned into predictions by `score >= threshold`.
 *
 * Conventions for empty cases (written once here so every stage reports the same numbers):
 * - micro-F1, precision, recall and per-label F1 are 0 when their denominator is 0 (as sklearn's
 *   `zero_division=0`): e.g. a label absent from a split and never predicted has F1 0, support 0;
 * - example-based F1 scores an image with no true and no predicted labels as 1 (nothing to get
 *   wrong) and averages over images; it is 0 for zero images.
 *
 * micro-F1 = 2·ΣTP / (2·ΣTP + ΣFP + ΣFN) over all image-label pairs (the challenge metric).
 *
 * True labels without a column (labels the split dropped for being rare) can never be predicted
 * but still count against the score on the real leaderboard. Pass them as `missed` — per image,
 * how many such labels it has — and they are added to the false negatives (and to each image's
 * true labels for example-based F1), so scores stay comparable with a submission's.
 */

/** Scores: any dense float matrix. */
export type ScoreMatrix = Float32Array | Float64Array;

/** Summed confusion counts over image-label pairs. */
export interface Counts {
  tp: number;
  fp: number;
  fn: number;
}

/** Per-label results, each array of length nLabels (index = label column). */
export interface PerLabel {
  tp: Uint32Array;
  fp: Uint32Array;
  fn: Uint32Array;
  /** Number of images with this label in the truth. */
  support: Uint32Array;
  precision: Float64Array;
  recall: Float64Array;
  f1: Float64Array;
}

/** The headline numbers written into `metrics.json`. */
export interface MetricSummary {
  micro_f1: number;
  micro_precision: number;
  micro_recall: number;
  /** Mean over images of each image's F1 (see the empty-case convention above). */
  example_f1: number;
  images: number;
  /** Number of true image-label pairs (missed ones included). */
  true_labels: number;
  /** Number of predicted image-label pairs. */
  predicted_labels: number;
}

/** Per image, true labels that have no column: always false negatives. Omit when there are none. */
export type Missed = ArrayLike<number> | undefined;

function checkMissed(missed: Missed, nImages: number): void {
  if (missed !== undefined && missed.length !== nImages)
    throw new Error(`internal error: missed counts for ${missed.length} images, expected ${nImages}`);
}

/** Total of `missed` (0 when omitted). */
export function sumMissed(missed: Missed, nImages: number): number {
  checkMissed(missed, nImages);
  if (missed === undefined) return 0;
  let s = 0;
  for (let i = 0; i < missed.length; i++) s += missed[i] as number;
  return s;
}

function checkShape(name: string, m: ArrayLike<number>, nImages: number, nLabels: number): void {
  if (!Number.isInteger(nImages) || !Number.isInteger(nLabels) || nImages < 0 || nLabels < 0) {
    throw new Error(`internal error: bad matrix shape ${nImages} x ${nLabels}`);
  }
  if (m.length !== nImages * nLabels) {
    throw new Error(
      `internal error: ${name} has ${m.length} values, expected ${nImages} x ${nLabels} = ${nImages * nLabels}`,
    );
  }
}

function checkThresholds(threshold: number | ArrayLike<number>, nLabels: number): void {
  if (typeof threshold !== 'number' && threshold.length !== nLabels) {
    throw new Error(`internal error: ${threshold.length} thresholds for ${nLabels} labels`);
  }
}

/** a / b, or 0 when b is 0. */
function ratio(a: number, b: number): number {
  return b === 0 ? 0 : a / b;
}

/** F1 from counts: 2TP / (2TP + FP + FN), 0 when nothing is true and nothing predicted. */
export function f1FromCounts(tp: number, fp: number, fn: number): number {
  return ratio(2 * tp, 2 * tp + fp + fn);
}

/** Summed TP/FP/FN of 0/1 predictions against 0/1 truth (plus `missed` labels as FN). */
export function confusion(
  truth: Uint8Array,
  pred: Uint8Array,
  nImages: number,
  nLabels: number,
  missed?: Missed,
): Counts {
  checkShape('truth', truth, nImages, nLabels);
  checkShape('pred', pred, nImages, nLabels);
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i] !== 0;
    const p = pred[i] !== 0;
    if (t && p) tp++;
    else if (p) fp++;
    else if (t) fn++;
  }
  return { tp, fp, fn: fn + sumMissed(missed, nImages) };
}

/** Micro-F1 of 0/1 predictions: 2·ΣTP / (2·ΣTP + ΣFP + ΣFN). */
export function microF1(
  truth: Uint8Array,
  pred: Uint8Array,
  nImages: number,
  nLabels: number,
  missed?: Missed,
): number {
  const c = confusion(truth, pred, nImages, nLabels, missed);
  return f1FromCounts(c.tp, c.fp, c.fn);
}

/** Micro-precision ΣTP / (ΣTP + ΣFP) of 0/1 predictions. */
export function microPrecision(truth: Uint8Array, pred: Uint8Array, nImages: number, nLabels: number): number {
  const c = confusion(truth, pred, nImages, nLabels);
  return ratio(c.tp, c.tp + c.fp);
}

/** Micro-recall ΣTP / (ΣTP + ΣFN) of 0/1 predictions. */
export function microRecall(
  truth: Uint8Array,
  pred: Uint8Array,
  nImages: number,
  nLabels: number,
  missed?: Missed,
): number {
  const c = confusion(truth, pred, nImages, nLabels, missed);
  return ratio(c.tp, c.tp + c.fn);
}

/**
 * Turn scores into 0/1 predictions: `score >= threshold`, where `threshold` is one number for
 * every label or one per label column (length nLabels).
 */
export function binarize(
  probs: ScoreMatrix,
  nImages: number,
  nLabels: number,
  threshold: number | ArrayLike<number>,
): Uint8Array {
  checkShape('probs', probs, nImages, nLabels);
  checkThresholds(threshold, nLabels);
  const out = new Uint8Array(probs.length);
  if (typeof threshold === 'number') {
    for (let i = 0; i < probs.length; i++) out[i] = (probs[i] as number) >= threshold ? 1 : 0;
    return out;
  }
  for (let r = 0; r < nImages; r++) {
    const base = r * nLabels;
    for (let l = 0; l < nLabels; l++) out[base + l] = (probs[base + l] as number) >= (threshold[l] as number) ? 1 : 0;
  }
  return out;
}

/**
 * Micro-F1 of scores thresholded at `threshold` (one number, or one per label), without
 * materialising the 0/1 matrix.
 */
export function microF1AtThreshold(
  truth: Uint8Array,
  probs: ScoreMatrix,
  nImages: number,
  nLabels: number,
  threshold: number | ArrayLike<number>,
  missed?: Missed,
  /** Counts of images scored without these probabilities (answered from priors), added as they are. */
  extra: Counts = { tp: 0, fp: 0, fn: 0 },
): number {
  checkShape('truth', truth, nImages, nLabels);
  checkShape('probs', probs, nImages, nLabels);
  checkThresholds(threshold, nLabels);
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let r = 0; r < nImages; r++) {
    const base = r * nLabels;
    for (let l = 0; l < nLabels; l++) {
      const t = typeof threshold === 'number' ? threshold : (threshold[l] as number);
      const p = (probs[base + l] as number) >= t;
      const y = truth[base + l] !== 0;
      if (y && p) tp++;
      else if (p) fp++;
      else if (y) fn++;
    }
  }
  return f1FromCounts(tp + extra.tp, fp + extra.fp, fn + extra.fn + sumMissed(missed, nImages));
}

/** Mean over images of each image's F1 (an image with nothing true and nothing predicted scores 1). */
export function exampleF1(
  truth: Uint8Array,
  pred: Uint8Array,
  nImages: number,
  nLabels: number,
  missed?: Missed,
): number {
  checkShape('truth', truth, nImages, nLabels);
  checkShape('pred', pred, nImages, nLabels);
  checkMissed(missed, nImages);
  if (nImages === 0) return 0;
  let sum = 0;
  for (let r = 0; r < nImages; r++) {
    const base = r * nLabels;
    let tp = 0;
    let t = missed === undefined ? 0 : (missed[r] as number);
    let p = 0;
    for (let l = 0; l < nLabels; l++) {
      const y = truth[base + l] !== 0;
      const q = pred[base + l] !== 0;
      if (y) t++;
      if (q) p++;
      if (y && q) tp++;
    }
    sum += t + p === 0 ? 1 : (2 * tp) / (t + p);
  }
  return sum / nImages;
}

/** Per-label TP/FP/FN, support, precision, recall and F1 (0 where undefined, see the conventions). */
export function perLabel(truth: Uint8Array, pred: Uint8Array, nImages: number, nLabels: number): PerLabel {
  checkShape('truth', truth, nImages, nLabels);
  checkShape('pred', pred, nImages, nLabels);
  const tp = new Uint32Array(nLabels);
  const fp = new Uint32Array(nLabels);
  const fn = new Uint32Array(nLabels);
  for (let r = 0; r < nImages; r++) {
    const base = r * nLabels;
    for (let l = 0; l < nLabels; l++) {
      const y = truth[base + l] !== 0;
      const q = pred[base + l] !== 0;
      if (y && q) tp[l] = (tp[l] as number) + 1;
      else if (q) fp[l] = (fp[l] as number) + 1;
      else if (y) fn[l] = (fn[l] as number) + 1;
    }
  }
  const support = new Uint32Array(nLabels);
  const precision = new Float64Array(nLabels);
  const recall = new Float64Array(nLabels);
  const f1 = new Float64Array(nLabels);
  for (let l = 0; l < nLabels; l++) {
    const a = tp[l] as number;
    const b = fp[l] as number;
    const c = fn[l] as number;
    support[l] = a + c;
    precision[l] = ratio(a, a + b);
    recall[l] = ratio(a, a + c);
    f1[l] = f1FromCounts(a, b, c);
  }
  return { tp, fp, fn, support, precision, recall, f1 };
}

/** The headline numbers of 0/1 predictions (micro-F1/precision/recall, example-based F1, counts). */
export function summarize(
  truth: Uint8Array,
  pred: Uint8Array,
  nImages: number,
  nLabels: number,
  missed?: Missed,
): MetricSummary {
  const c = confusion(truth, pred, nImages, nLabels, missed);
  return {
    micro_f1: f1FromCounts(c.tp, c.fp, c.fn),
    micro_precision: ratio(c.tp, c.tp + c.fp),
    micro_recall: ratio(c.tp, c.tp + c.fn),
    example_f1: exampleF1(truth, pred, nImages, nLabels, missed),
    images: nImages,
    true_labels: c.tp + c.fn,
    predicted_labels: c.tp + c.fp,
  };
}
