/**
 * Dense label matrices from split files and predictions: ground truth as 0/1 rows, and model
 * probabilities reordered to a given image order and label column order.
 */
import type { PredictedSplit, Predictions } from '../formats/predictions.js';

/** 0/1 matrix [rows x labels]; label ids not in `labels` (dropped by split) are ignored. */
export function truthMatrix(rows: ReadonlyArray<{ labels?: string[] }>, labels: string[]): Uint8Array {
  const col = new Map(labels.map((l, i) => [l, i]));
  const m = new Uint8Array(rows.length * labels.length);
  rows.forEach((row, r) => {
    for (const l of row.labels ?? []) {
      const c = col.get(String(l));
      if (c !== undefined) m[r * labels.length + c] = 1;
    }
  });
  return m;
}

/**
 * Per row, how many of its (deduplicated) true labels are not in `labels` — labels split dropped,
 * which no model predicts but which still count as misses (metrics.ts `missed`).
 */
export function missedLabels(rows: ReadonlyArray<{ labels?: string[] }>, labels: string[]): Uint16Array {
  const known = new Set(labels);
  return Uint16Array.from(rows, (row) => {
    let n = 0;
    for (const l of new Set((row.labels ?? []).map(String))) if (!known.has(l)) n++;
    return n;
  });
}

/** Column index in `predLabels` of each of `labels`, -1 where the predictions lack the label. */
export function columnsOf(predLabels: string[], labels: string[]): Int32Array {
  const at = new Map(predLabels.map((l, i) => [l, i]));
  return Int32Array.from(labels, (l) => at.get(l) ?? -1);
}

/**
 * Column index in `predLabels` of each of `labels`; throws naming `source` when a label is missing.
 */
export function columnMap(predLabels: string[], labels: string[], source: string): Int32Array {
  const map = columnsOf(predLabels, labels);
  const missing = labels.filter((_, i) => map[i] === -1);
  if (missing.length > 0) {
    throw new Error(
      `${source}: predictions lack ${missing.length} of the split's labels (${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''})`,
    );
  }
  return map;
}

/** Probabilities aligned to an image and label order, and which of those labels the model predicts. */
export interface CoveredPredictions {
  /** Row-major ids.length x labels.length; 0 in the columns the model does not predict. */
  probs: Float32Array;
  /** Per label of `labels`: 1 when the model predicts it. */
  covered: Uint8Array;
}

/**
 * Probabilities of `split` for images `ids` (every id must be present) in column order `labels`,
 * as a new row-major matrix; every value must lie in [0, 1]. Labels the model does not predict
 * (a train-head on a label subset) are 0 and marked uncovered.
 */
export function alignCovered(
  preds: Predictions,
  split: PredictedSplit,
  ids: string[],
  labels: string[],
  source: string,
): CoveredPredictions {
  const sp = preds.splits[split];
  if (!sp) throw new Error(`${source}: no ${split} predictions`);
  const cols = columnsOf(preds.labels, labels);
  const rowOf = new Map<string, number>();
  sp.ids.forEach((id, r) => {
    if (!rowOf.has(id)) rowOf.set(id, r);
  });
  const L = labels.length;
  const W = preds.labels.length;
  const out = new Float32Array(ids.length * L);
  ids.forEach((id, i) => {
    const r = rowOf.get(id);
    if (r === undefined) throw new Error(`${source}: no ${split} prediction for image ${JSON.stringify(id)}`);
    const base = r * W;
    for (let c = 0; c < L; c++) {
      const col = cols[c] as number;
      if (col < 0) continue;
      const v = sp.probs[base + col] as number;
      // Combination and threshold code relies on probabilities in [0, 1]; NaN fails here too.
      if (!(v >= 0 && v <= 1))
        throw new Error(
          `${source}: ${split} probability ${v} for image ${JSON.stringify(id)}, label ${labels[c]} is outside [0, 1]`,
        );
      out[i * L + c] = v;
    }
  });
  return { probs: out, covered: Uint8Array.from(cols, (c) => (c >= 0 ? 1 : 0)) };
}

/** alignCovered for a model that must predict every one of `labels` (throws naming the missing ones). */
export function alignPredictions(
  preds: Predictions,
  split: PredictedSplit,
  ids: string[],
  labels: string[],
  source: string,
): Float32Array {
  columnMap(preds.labels, labels, source);
  return alignCovered(preds, split, ids, labels, source).probs;
}
