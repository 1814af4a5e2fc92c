/**
 * Combining several models' probability matrices (all aligned: same images, same label columns).
 *
 * Weighted means are computed the same way everywhere — a float64 sum over models in their
 * given order, rounded once to float32 — so the score the PSO objective sees for an entry is
 * bit-identical to what `weightedMean` writes into the ensemble's predictions.
 */
import { MAX_OBJECTIVE_STEPS } from './choices.js';
import type { SweepResult } from './score-grid.js';
import { binCount, gridStart, sweepHistogram } from './score-grid.js';
import { HistogramHelpers, KERNEL_PARAMS, splitRange, type HelperRange } from './ensemble-threads.js';

/** Non-negative weights scaled to sum 1 (equal weights when they sum to 0). */
export function normalizeWeights(x: ArrayLike<number>): Float64Array {
  const w = new Float64Array(x.length);
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    const v = Math.max(0, x[i] as number);
    w[i] = v;
    sum += v;
  }
  if (!(sum > 0)) return w.fill(x.length === 0 ? 0 : 1 / x.length);
  for (let i = 0; i < w.length; i++) w[i] = (w[i] as number) / sum;
  return w;
}

function checkSameLength(models: Float32Array[]): number {
  const first = models[0];
  if (!first) throw new Error('internal error: no models to combine');
  for (const m of models) {
    if (m.length !== first.length)
      throw new Error(`internal error: model matrices differ in size (${m.length} vs ${first.length})`);
  }
  return first.length;
}

/** Σ w_m · p_m per entry (weights used as given; normalise them first for a mean). */
export function weightedMean(models: Float32Array[], weights: ArrayLike<number>): Float32Array {
  const n = checkSameLength(models);
  if (weights.length !== models.length)
    throw new Error(`internal error: ${weights.length} weights for ${models.length} models`);
  const acc = new Float64Array(n);
  models.forEach((m, j) => {
    const w = weights[j] as number;
    for (let i = 0; i < n; i++) acc[i] = (acc[i] as number) + w * (m[i] as number);
  });
  return Float32Array.from(acc);
}

/** Plain arithmetic mean. */
export function arithmeticMean(models: Float32Array[]): Float32Array {
  return weightedMean(models, normalizeWeights(new Float64Array(models.length)));
}

/** Smallest probability used by the harmonic mean, so one model's 0 does not zero the entry. */
export const HARMONIC_FLOOR = 1e-7;

/** Harmonic mean M / Σ 1/p_m (each p clamped to at least HARMONIC_FLOOR). */
export function harmonicMean(models: Float32Array[]): Float32Array {
  const n = checkSameLength(models);
  const acc = new Float64Array(n);
  for (const m of models) {
    for (let i = 0; i < n; i++) acc[i] = (acc[i] as number) + 1 / Math.max(HARMONIC_FLOOR, m[i] as number);
  }
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = models.length / (acc[i] as number);
  return out;
}

/** One evaluation's inner loop over entries [start, end): counts hist[2·bin + truth]. */
type Kernel = (
  w: Float64Array,
  values: Float32Array,
  truth: Uint8Array,
  hist: Uint32Array,
  start: number,
  end: number,
  steps: number,
) => void;

const kernels = new Map<number, { source: string; run: Kernel }>();

/**
 * The inner loop for M models (parameters KERNEL_PARAMS), with the sum over models unrolled: V8
 * runs a loop over models about 4x slower than the straight-line sum, and this loop is the whole
 * cost of PSO. Only the integer M is spliced into the source. The sum runs over models in order
 * from 0, exactly like `weightedMean`, so both produce the same float32 score.
 *
 * Binning is exact without corrections: the score s is a float32 (24-bit significand) and
 * steps <= 10000 (< 2^14), so s·steps is exact in float64 and floor(s·steps) >= k ⇔ s >= k/steps;
 * and no float32 lies strictly between k/steps and its float64 rounding, so this matches the
 * `score >= k/steps` test used when thresholds are applied.
 */
function kernelFor(M: number): { source: string; run: Kernel } {
  let k = kernels.get(M);
  if (!k) {
    if (!Number.isInteger(M) || M < 1 || M > 1000) throw new Error(`internal error: cannot combine ${M} models`);
    const names = Array.from({ length: M }, (_, j) => `w${j}`);
    const sum = names.map((w, j) => `${w} * values[o + ${j}]`).join(' + ');
    const source = `
      const ${names.map((w, j) => `${w} = w[${j}]`).join(', ')};
      for (let e = start, o = start * ${M}; e < end; e++, o += ${M}) {
        let b = (Math.fround(${sum}) * steps) | 0;
        if (b > steps) b = steps;
        hist[2 * b + truth[e]]++;
      }`;
    k = { source, run: new Function(...KERNEL_PARAMS, source) as Kernel };
    kernels.set(M, k);
  }
  return k;
}

/** Largest grid the objective supports (see kernelFor: s·steps must stay exact in float64). */
export { MAX_OBJECTIVE_STEPS };

/** Fewest active entries worth a thread of their own (fewer, and starting it costs more than it saves). */
export const MIN_ENTRIES_PER_THREAD = 10_000;

export interface ObjectiveOptions {
  /** Threshold grid: candidates k/steps (1..MAX_OBJECTIVE_STEPS). */
  steps: number;
  /** Lowest candidate threshold (default: 1/steps). */
  minThreshold?: number;
  /** True labels without a column, always false negatives (see metrics.ts `missed`). */
  extraFn?: number;
  /**
   * Threads per evaluation, this one included (default 1; fewer when there are under
   * MIN_ENTRIES_PER_THREAD active entries per thread). Results do not depend on it.
   */
  threads?: number;
  /** Time threaded and lone evaluations and use the faster (default true); false: always threaded. */
  adaptive?: boolean;
  /**
   * Models over different label sets (label-coverage.ts): entry e is label e % labels, of group
   * groupOf[label], scored with weightsOf(group, w). One thread then (each group has its own
   * weights; the threaded kernel takes one vector).
   */
  groups?: {
    labels: number;
    groupOf: Int32Array;
    count: number;
    weightsOf(group: number, w: Float64Array): Float64Array;
  };
}

/**
 * Fast scorer of "micro-F1 at the best global grid threshold" for weighted means of fixed
 * models on fixed truth — the PSO objective. Candidate thresholds are k/steps from
 * `minThreshold` up to 1. Probabilities must lie in [0, 1] and weights be normalised.
 *
 * A weighted mean never exceeds the largest of its inputs, so an entry whose every model scores
 * below the lowest candidate is negative for all weights and all candidates: such entries are
 * dropped once, and their true labels kept as a constant count of false negatives. The rest are
 * stored entry-major ([entry][model]) in shared memory, so one evaluation reads memory in order
 * and helper threads (ensemble-threads.ts) can count parts of it. Call `close()` when done.
 */
export class WeightedF1Objective {
  readonly models: number;
  readonly steps: number;
  /** Lowest candidate grid index (threshold kStart/steps). */
  readonly kStart: number;
  /** Entries that can become positive for some weights. */
  readonly activeEntries: number;
  readonly totalEntries: number;
  /** Threads counting each evaluation, this one included. */
  readonly threads: number;
  private readonly values: Float32Array;
  private readonly truth: Uint8Array;
  /** Label groups of models over different label sets, and each group's range of active entries. */
  private readonly groups: ObjectiveOptions['groups'];
  private readonly groupRanges: HelperRange[];
  /** False negatives at every candidate: positives of pruned entries plus labels without a column. */
  private readonly prunedPositives: number;
  private readonly kernel: Kernel;
  /** This thread's share of the entries when the helpers count the rest. */
  private readonly own: HelperRange;
  private readonly helpers: HistogramHelpers | undefined;
  /** Recent wall time per evaluation: [alone, with helpers] (NaN until tried). */
  private readonly avgMs = [Number.NaN, Number.NaN];
  private readonly adaptive: boolean;
  /** Evaluations so far. */
  evaluations = 0;
  /** Evaluations the helpers took part in. */
  helperEvaluations = 0;
  /** Interleaved counts: hist[2·bin + truth]. */
  private readonly hist: Uint32Array;
  private readonly pos: Float64Array;
  private readonly neg: Float64Array;

  constructor(models: Float32Array[], truth: Uint8Array, opts: ObjectiveOptions) {
    const { steps } = opts;
    const n = checkSameLength(models);
    if (truth.length !== n) throw new Error(`internal error: truth has ${truth.length} entries, models ${n}`);
    if (!Number.isInteger(steps) || steps < 1 || steps > MAX_OBJECTIVE_STEPS)
      throw new Error(`internal error: steps ${steps} outside 1..${MAX_OBJECTIVE_STEPS}`);
    const M = models.length;
    this.kStart = gridStart(opts.minThreshold ?? 0, steps);
    // Margin below the lowest candidate covers float64 summation and the float32 rounding of the mean.
    const floor = (this.kStart / steps) * (1 - 1e-6);
    const groups = opts.groups;
    if (groups && (groups.labels <= 0 || n % groups.labels !== 0))
      throw new Error(`internal error: ${n} entries are not rows of ${groups.labels} labels`);
    const groupOf = (i: number): number => (groups ? (groups.groupOf[i % groups.labels] as number) : 0);
    const G = groups?.count ?? 1;
    // Active entries per group; stored group after group so each group is one range.
    const perGroup = new Int32Array(G + 1);
    const keep = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < M; j++) {
        if (((models[j] as Float32Array)[i] as number) >= floor) {
          keep[i] = 1;
          const g = groupOf(i) + 1;
          perGroup[g] = (perGroup[g] as number) + 1;
          break;
        }
      }
    }
    for (let g = 0; g < G; g++) perGroup[g + 1] = (perGroup[g + 1] as number) + (perGroup[g] as number);
    const active = perGroup[G] as number;
    this.groupRanges = Array.from({ length: G }, (_, g) => ({
      start: perGroup[g] as number,
      end: perGroup[g + 1] as number,
    }));
    this.values = new Float32Array(new SharedArrayBuffer(4 * active * M));
    this.truth = new Uint8Array(new SharedArrayBuffer(active));
    let pruned = 0;
    const next = perGroup.slice(0, G);
    for (let i = 0; i < n; i++) {
      if (keep[i] === 0) {
        if (truth[i] !== 0) pruned++;
        continue;
      }
      const g = groupOf(i);
      const a = next[g] as number;
      next[g] = a + 1;
      for (let j = 0; j < M; j++) this.values[a * M + j] = (models[j] as Float32Array)[i] as number;
      this.truth[a] = truth[i] !== 0 ? 1 : 0;
    }
    this.groups = groups;
    this.models = M;
    this.steps = steps;
    this.activeEntries = active;
    this.totalEntries = n;
    this.prunedPositives = pruned + (opts.extraFn ?? 0);
    const kernel = kernelFor(M);
    this.kernel = kernel.run;
    this.hist = new Uint32Array(2 * binCount(steps));
    this.pos = new Float64Array(binCount(steps));
    this.neg = new Float64Array(binCount(steps));
    this.threads = groups
      ? 1
      : Math.max(1, Math.min(16, Math.floor(opts.threads ?? 1), Math.floor(active / MIN_ENTRIES_PER_THREAD)));
    this.adaptive = opts.adaptive ?? true;
    const ranges = splitRange(active, this.threads);
    this.own = ranges[0] as HelperRange;
    this.helpers =
      this.threads > 1
        ? new HistogramHelpers(kernel.source, this.values, this.truth, ranges.slice(1), M, this.hist.length, steps)
        : undefined;
  }

  /** Best candidate threshold and its micro-F1 for these weights (used as given; pass normalised weights). */
  evaluate(weights: ArrayLike<number>): SweepResult {
    const M = this.models;
    if (weights.length !== M) throw new Error(`internal error: ${weights.length} weights for ${M} models`);
    const { hist, steps } = this;
    const w = Float64Array.from(weights);
    const withHelpers = this.chooseHelpers();
    const t0 = performance.now();
    hist.fill(0);
    if (withHelpers && this.helpers) {
      this.helpers.start(w);
      this.kernel(w, this.values, this.truth, hist, this.own.start, this.own.end, steps);
      this.helpers.finish(hist);
      this.helperEvaluations++;
    } else if (this.groups) {
      const { groups } = this;
      this.groupRanges.forEach((r, g) => {
        if (r.end > r.start) this.kernel(groups.weightsOf(g, w), this.values, this.truth, hist, r.start, r.end, steps);
      });
    } else {
      this.kernel(w, this.values, this.truth, hist, 0, this.activeEntries, steps);
    }
    const mode = withHelpers ? 1 : 0;
    const ms = performance.now() - t0;
    const prev = this.avgMs[mode] as number;
    this.avgMs[mode] = Number.isNaN(prev) ? ms : 0.7 * prev + 0.3 * ms;
    this.evaluations++;
    for (let b = 0; b <= steps; b++) {
      this.neg[b] = hist[2 * b] as number;
      this.pos[b] = hist[2 * b + 1] as number;
    }
    return sweepHistogram(this.pos, this.neg, steps, this.prunedPositives, this.kStart);
  }

  /**
   * Whether the helpers count this evaluation. On a machine shared with other work, waiting for a
   * descheduled helper can cost more than it saves, so both ways are timed (each tried first,
   * then the slower one again every 25th evaluation) and the faster is used. The counts are the
   * same either way, so this changes speed only, never results.
   */
  private chooseHelpers(): boolean {
    if (!this.helpers) return false;
    if (!this.adaptive) return true;
    const [alone, helped] = this.avgMs as [number, number];
    if (Number.isNaN(helped)) return true;
    if (Number.isNaN(alone)) return false;
    const faster = helped <= alone;
    return this.evaluations % 25 === 0 ? !faster : faster;
  }

  /** Stop the helper threads (the objective cannot evaluate afterwards when it had any). */
  async close(): Promise<void> {
    await this.helpers?.close();
  }
}
