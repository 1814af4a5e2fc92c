/**
 * How sure a holdout score is: a seeded bootstrap over images. Each method's predictions are
 * reduced once to per-image (tp, fp, fn) counts; every resample draws images with replacement
 * from the same seeded sequence, so intervals are deterministic and differences between two
 * methods are paired (the same resampled images for both). A difference whose 95% interval holds
 * 0 is a tie: the holdout cannot tell the two apart.
 */
import { hashSeed, mulberry32 } from '../random.js';
import { f1FromCounts, type Missed } from './metrics.js';

/** Per-image counts, three per image: tp, fp, fn (fn includes labels outside the model's space). */
export type ImageCounts = Int32Array;

export interface Interval {
  lo: number;
  hi: number;
}

export interface Comparison {
  a: string;
  b: string;
  /** Holdout micro-F1 of a minus b. */
  diff: number;
  /** 95% bootstrap interval of the difference. */
  lo: number;
  hi: number;
  /** Which is better, or a tie when the interval holds 0. */
  verdict: string;
}

export const BOOTSTRAP_ROUNDS = 1000;

/** Per-image counts of 0/1 predictions against the truth; `missed[r]` adds misses to image r. */
export function imageCounts(
  truth: Uint8Array,
  pred: Uint8Array,
  nImages: number,
  nLabels: number,
  missed?: Missed,
): ImageCounts {
  const out = new Int32Array(3 * nImages);
  for (let r = 0; r < nImages; r++) {
    let tp = 0;
    let fp = 0;
    let fn = missed ? (missed[r] as number) : 0;
    for (let l = r * nLabels; l < (r + 1) * nLabels; l++) {
      const y = truth[l] !== 0;
      const p = pred[l] !== 0;
      if (y && p) tp++;
      else if (p) fp++;
      else if (y) fn++;
    }
    out[3 * r] = tp;
    out[3 * r + 1] = fp;
    out[3 * r + 2] = fn;
  }
  return out;
}

/** micro-F1 over all images of some counts. */
export function countsF1(c: ImageCounts): number {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < c.length; i += 3) {
    tp += c[i] as number;
    fp += c[i + 1] as number;
    fn += c[i + 2] as number;
  }
  return f1FromCounts(tp, fp, fn);
}

/** The 2.5% and 97.5% points of sorted values. */
function percentiles(values: Float64Array): Interval {
  values.sort();
  const at = (q: number): number =>
    values[Math.min(values.length - 1, Math.max(0, Math.round(q * (values.length - 1))))] as number;
  return { lo: at(0.025), hi: at(0.975) };
}

/**
 * Bootstrap statistics of several methods on one set of images: `stat` gets each method's
 * resampled micro-F1 and returns the number whose interval is wanted.
 */
function resample(methods: ImageCounts[], seed: number, rounds: number, stat: (f1: number[]) => number): Float64Array {
  const n = (methods[0]?.length ?? 0) / 3;
  const rand = mulberry32(hashSeed(seed, 'bootstrap'));
  const out = new Float64Array(rounds);
  const sums = methods.map(() => new Float64Array(3));
  for (let b = 0; b < rounds; b++) {
    for (const s of sums) s.fill(0);
    for (let i = 0; i < n; i++) {
      const r = Math.floor(rand() * n) * 3;
      methods.forEach((c, m) => {
        const s = sums[m] as Float64Array;
        s[0] = (s[0] as number) + (c[r] as number);
        s[1] = (s[1] as number) + (c[r + 1] as number);
        s[2] = (s[2] as number) + (c[r + 2] as number);
      });
    }
    out[b] = stat(sums.map((s) => f1FromCounts(s[0] as number, s[1] as number, s[2] as number)));
  }
  return out;
}

/** 95% interval of one method's micro-F1. */
export function f1Interval(c: ImageCounts, seed: number, rounds = BOOTSTRAP_ROUNDS): Interval {
  if (c.length === 0) return { lo: 0, hi: 0 };
  return percentiles(resample([c], seed, rounds, (f) => f[0] as number));
}

/** Paired comparison of two methods on the same images: a − b with its 95% interval and verdict. */
export function compareMethods(
  a: { name: string; counts: ImageCounts },
  b: { name: string; counts: ImageCounts },
  seed: number,
  rounds = BOOTSTRAP_ROUNDS,
): Comparison {
  if (a.counts.length !== b.counts.length) throw new Error(`${a.name} and ${b.name} were scored on different images`);
  const diff = countsF1(a.counts) - countsF1(b.counts);
  const { lo, hi } =
    a.counts.length === 0
      ? { lo: 0, hi: 0 }
      : percentiles(resample([a.counts, b.counts], seed, rounds, (f) => (f[0] as number) - (f[1] as number)));
  const verdict = lo > 0 ? `${a.name} better` : hi < 0 ? `${b.name} better` : 'tie';
  return { a: a.name, b: b.name, diff, lo, hi, verdict };
}

/** A score difference with its sign, 4 decimals: "+0.0005", "−0.0090". */
export function signed(x: number): string {
  return `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(4)}`;
}

/** One line for the log and the README: "pso − mean +0.0005 [−0.0090, +0.0100]: tie". */
export function comparisonText(c: Comparison): string {
  return `${c.a} − ${c.b} ${signed(c.diff)} [${signed(c.lo)}, ${signed(c.hi)}]: ${c.verdict}`;
}
