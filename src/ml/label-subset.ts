/**
 * Which labels a train-head predicts: all of the split's, or a subset chosen by training frequency
 * (`min_count` / `max_count`, the seed's two InceptionV3 heads split at 100,000 occurrences) or by
 * an explicit list. The params fragment is constants only (stage definitions import it); the
 * selection and the in-place narrowing of a label matrix are here so train-head stays a wiring file.
 */

export const LABEL_SUBSET_PARAMS = {
  min_count: {
    type: 'integer',
    minimum: 0,
    description:
      'predict only labels with at least this many training images (counted over the training rows with features); unset: no lower bound',
  },
  max_count: {
    type: 'integer',
    minimum: 0,
    description:
      'predict only labels with at most this many training images (inclusive; the seed’s rare head is max_count: 99999 beside min_count: 100000); unset: no upper bound',
  },
  labels: {
    type: 'array',
    items: { type: 'string', minLength: 1 },
    minItems: 1,
    uniqueItems: true,
    description:
      'predict only these label ids (each must be in the split’s labels.json); combined with min_count/max_count, a label must pass both',
  },
} as const;

export interface LabelSubsetParams {
  min_count?: number;
  max_count?: number;
  labels?: readonly string[];
}

export interface LabelSubset {
  /** Chosen label ids, in the order of the full label list. */
  labels: string[];
  /** Column of each chosen label in the full list (ascending). */
  columns: Int32Array;
  /** Training images per chosen label. */
  counts: number[];
  /** Whether every label was chosen (no subset params given, or they keep everything). */
  all: boolean;
}

/** Images per label column of a 0/1 matrix (rows x labels). */
export function columnCounts(y: Uint8Array, rows: number, labels: number): Float64Array {
  const counts = new Float64Array(labels);
  for (let r = 0; r < rows; r++) {
    const base = r * labels;
    for (let l = 0; l < labels; l++) if (y[base + l] !== 0) counts[l] = (counts[l] as number) + 1;
  }
  return counts;
}

/**
 * The labels that pass the subset params, or a message saying why none (or an unknown one) can be
 * used: each names the param and the range of counts there is to choose from.
 */
export function chooseLabels(
  all: readonly string[],
  counts: ArrayLike<number>,
  p: LabelSubsetParams,
): { ok: true; value: LabelSubset } | { ok: false; error: string } {
  if (p.min_count !== undefined && p.max_count !== undefined && p.min_count > p.max_count)
    return { ok: false, error: `label subset: min_count ${p.min_count} is above max_count ${p.max_count}` };
  let listed: Set<string> | undefined;
  if (p.labels) {
    const known = new Set(all);
    const unknown = p.labels.filter((l) => !known.has(l));
    if (unknown.length > 0)
      return {
        ok: false,
        error: `label subset: param labels names ${unknown.length} label id(s) not in the split's labels.json (${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ', …' : ''})`,
      };
    listed = new Set(p.labels);
  }
  const columns: number[] = [];
  all.forEach((l, c) => {
    const n = counts[c] as number;
    if (listed && !listed.has(l)) return;
    if (p.min_count !== undefined && n < p.min_count) return;
    if (p.max_count !== undefined && n > p.max_count) return;
    columns.push(c);
  });
  if (columns.length === 0) {
    let lo = Infinity;
    let hi = -Infinity;
    for (let c = 0; c < all.length; c++) {
      lo = Math.min(lo, counts[c] as number);
      hi = Math.max(hi, counts[c] as number);
    }
    const range = all.length > 0 ? `training counts range ${lo}..${hi}` : 'no labels';
    return {
      ok: false,
      error: `label subset: no label passes min_count ${p.min_count ?? '-'} / max_count ${p.max_count ?? '-'}${listed ? ` among the ${listed.size} listed` : ''} (${range})`,
    };
  }
  return {
    ok: true,
    value: {
      labels: columns.map((c) => all[c] as string),
      columns: Int32Array.from(columns),
      counts: columns.map((c) => counts[c] as number),
      all: columns.length === all.length,
    },
  };
}

/**
 * Keep only `columns` (ascending) of a rows x labels matrix, in place: row r's kept values move to
 * r x columns.length, never past a value not yet read (columns[k] >= k), so no second matrix of a
 * million rows is needed. Returns the narrowed view over the same memory.
 */
export function narrowColumns(y: Uint8Array, rows: number, labels: number, columns: Int32Array): Uint8Array {
  const K = columns.length;
  if (K === labels) return y;
  for (let r = 0; r < rows; r++) {
    const from = r * labels;
    const to = r * K;
    for (let k = 0; k < K; k++) y[to + k] = y[from + (columns[k] as number)] as number;
  }
  return y.subarray(0, rows * K);
}
