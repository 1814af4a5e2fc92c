/**
 * Multi-label iterative stratification (Sechidis, Tsoumakas & Vlahavas, "On the stratification of
 * multi-label data", ECML PKDD 2011): split examples into subsets of given proportions so that
 * every label, the rare ones first, is spread across subsets in the same proportions.
 *
 * Repeatedly take the label with the fewest examples still unassigned; give each of its examples to
 * the subset that most wants that label (ties: the subset that wants the most examples, then a
 * seeded random choice); update the wants of every label of the example. Examples with no label
 * go to the subsets that want the most examples. Cost O(labels^2 + label occurrences).
 */
import { shuffleInPlace } from '../random.js';
import type { LabelRows } from './label-rows.js';

/**
 * Subset number (0..ratios.length-1) of each row. `ratios` are normalised; rows are the examples'
 * label indices (0..nLabels-1). Labels outside that range, or with `use[l] === 0`, are ignored, so
 * dropped labels do not steer the split.
 */
export function iterativeStratification(
  rows: LabelRows,
  nLabels: number,
  ratios: readonly number[],
  rand: () => number,
  use?: Uint8Array,
): Int32Array {
  const on = (l: number): boolean => l >= 0 && l < nLabels && (use === undefined || use[l] === 1);
  const n = rows.length;
  const k = ratios.length;
  const sum = ratios.reduce((a, b) => a + b, 0);
  if (k === 0 || !(sum > 0)) throw new Error('internal error: stratification needs positive ratios');
  const r = ratios.map((x) => x / sum);

  // Examples of each label, visited in a seeded random order so id order does not bias subsets.
  const order = shuffleInPlace(
    Array.from({ length: n }, (_, i) => i),
    rand,
  );
  const count = new Int32Array(nLabels);
  for (let e = 0; e < n; e++) for (const l of rows.row(e)) if (on(l)) count[l]!++;
  const start = new Int32Array(nLabels + 1);
  for (let l = 0; l < nLabels; l++) start[l + 1] = (start[l] as number) + (count[l] as number);
  const members = new Int32Array(start[nLabels] as number);
  const fill = start.slice(0, nLabels);
  for (const e of order) for (const l of rows.row(e)) if (on(l)) members[fill[l]!++] = e;

  const wantExamples = r.map((x) => x * n);
  const wantLabel = new Float64Array(nLabels * k);
  for (let l = 0; l < nLabels; l++)
    for (let j = 0; j < k; j++) wantLabel[l * k + j] = (count[l] as number) * (r[j] as number);
  const remaining = Int32Array.from(count);
  const assigned = new Int32Array(n).fill(-1);

  const pick = (scores: (j: number) => number, secondary: (j: number) => number): number => {
    let best: number[] = [];
    let bestScore = -Infinity;
    let bestSecond = -Infinity;
    for (let j = 0; j < k; j++) {
      if (r[j] === 0) continue; // a subset meant to stay empty is never chosen
      const s = scores(j);
      const t = secondary(j);
      if (s > bestScore || (s === bestScore && t > bestSecond)) {
        best = [j];
        bestScore = s;
        bestSecond = t;
      } else if (s === bestScore && t === bestSecond) best.push(j);
    }
    return best.length === 1 ? (best[0] as number) : (best[Math.floor(rand() * best.length)] as number);
  };

  for (;;) {
    // The label with the fewest unassigned examples (ties: random among them).
    let label = -1;
    let fewest = Infinity;
    let ties = 0;
    for (let l = 0; l < nLabels; l++) {
      const c = remaining[l] as number;
      if (c <= 0) continue;
      if (c < fewest) {
        fewest = c;
        label = l;
        ties = 1;
      } else if (c === fewest && rand() < 1 / ++ties) label = l;
    }
    if (label < 0) break;
    for (let m = start[label] as number; m < (start[label + 1] as number); m++) {
      const e = members[m] as number;
      if (assigned[e] !== -1) continue;
      const j = pick(
        (s) => wantLabel[label * k + s] as number,
        (s) => wantExamples[s] as number,
      );
      assigned[e] = j;
      wantExamples[j]!--;
      for (const l of rows.row(e)) {
        if (!on(l)) continue;
        remaining[l]!--;
        wantLabel[l * k + j]!--;
      }
    }
  }
  for (const e of order) {
    if (assigned[e] !== -1) continue;
    const j = pick(
      (s) => wantExamples[s] as number,
      () => 0,
    );
    assigned[e] = j;
    wantExamples[j]!--;
  }
  return assigned;
}
