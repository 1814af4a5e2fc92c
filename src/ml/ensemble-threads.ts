/**
 * Helper threads for the PSO objective: each runs the same compiled histogram kernel over its own
 * range of entries, on data shared with the main thread (SharedArrayBuffer), so one evaluation
 * uses every core while the objective stays a plain synchronous function.
 *
 * Protocol on a shared Int32Array `ctrl`: the main thread writes the weights, bumps ctrl[GEN] and
 * notifies; each helper counts into its own histogram, stores the generation it finished into its
 * ctrl[DONE + i] and notifies; the main thread counts its own range meanwhile, then waits for every
 * DONE slot and adds the histograms. Histogram counts are integers, so the sum — and the PSO
 * path — is the same for any number of threads. A negative generation stops the helpers.
 *
 * State per helper:  waiting --(gen bumped)--> counting --(done stored)--> waiting
 *                    waiting --(gen < 0)--> stopped;  counting --(throws)--> failed (done = -gen)
 */
import { Worker } from 'node:worker_threads';

/** Parameter names of the compiled kernel, in order (shared with the kernel's source). */
export const KERNEL_PARAMS = ['w', 'values', 'truth', 'hist', 'start', 'end', 'steps'] as const;

const GEN = 0;
const DONE = 1;
/** Longest wait for a helper's share of one evaluation before giving up on it. */
const HELPER_TIMEOUT_MS = 120_000;

// Runs as a CommonJS script inside each helper (eval: true); it gets the kernel source, not code
// from any input.
const HELPER_SCRIPT = `
const { workerData } = require('node:worker_threads');
const { source, params, values, truth, weights, hist, ctrl, slot, start, end, steps } = workerData;
const kernel = new Function(...params, source);
let seen = 0;
for (;;) {
  Atomics.wait(ctrl, ${GEN}, seen);
  const gen = Atomics.load(ctrl, ${GEN});
  if (gen < 0) break;
  if (gen === seen) continue;
  seen = gen;
  try {
    hist.fill(0);
    kernel(weights, values, truth, hist, start, end, steps);
    Atomics.store(ctrl, ${DONE} + slot, gen);
  } catch (e) {
    Atomics.store(ctrl, ${DONE} + slot, -gen);
  }
  Atomics.notify(ctrl, ${DONE} + slot);
}
`;

export interface HelperRange {
  start: number;
  end: number;
}

/** Split [0, n) into `parts` contiguous ranges of near-equal size. */
export function splitRange(n: number, parts: number): HelperRange[] {
  const out: HelperRange[] = [];
  for (let i = 0; i < parts; i++)
    out.push({ start: Math.floor((n * i) / parts), end: Math.floor((n * (i + 1)) / parts) });
  return out;
}

export class HistogramHelpers {
  private readonly workers: Worker[] = [];
  private readonly ctrl: Int32Array;
  private readonly weights: Float64Array;
  private readonly hists: Uint32Array[] = [];
  private gen = 0;
  private closed = false;

  /**
   * Start one helper per range. `values` and `truth` must live in SharedArrayBuffers; `source`
   * is the kernel body compiled with KERNEL_PARAMS.
   */
  constructor(
    source: string,
    values: Float32Array,
    truth: Uint8Array,
    ranges: HelperRange[],
    models: number,
    histLength: number,
    steps: number,
  ) {
    if (!(values.buffer instanceof SharedArrayBuffer) || !(truth.buffer instanceof SharedArrayBuffer)) {
      throw new Error('internal error: helper threads need shared memory');
    }
    this.ctrl = new Int32Array(new SharedArrayBuffer(4 * (DONE + ranges.length)));
    this.weights = new Float64Array(new SharedArrayBuffer(8 * models));
    ranges.forEach((r, slot) => {
      const hist = new Uint32Array(new SharedArrayBuffer(4 * histLength));
      this.hists.push(hist);
      const worker = new Worker(HELPER_SCRIPT, {
        eval: true,
        // No loaders (e.g. tsx) in the helper: it runs plain JavaScript only.
        execArgv: [],
        workerData: {
          source,
          params: KERNEL_PARAMS,
          values,
          truth,
          weights: this.weights,
          hist,
          ctrl: this.ctrl,
          slot,
          start: r.start,
          end: r.end,
          steps,
        },
      });
      worker.unref();
      this.workers.push(worker);
    });
  }

  get count(): number {
    return this.workers.length;
  }

  /** Hand the helpers one evaluation with these weights (returns at once). */
  start(weights: ArrayLike<number>): void {
    if (this.closed) throw new Error('internal error: helper threads already closed');
    this.weights.set(weights);
    this.gen++;
    Atomics.store(this.ctrl, GEN, this.gen);
    Atomics.notify(this.ctrl, GEN);
  }

  /** Wait for the helpers' counts of the current evaluation and add them into `hist`. */
  finish(hist: Uint32Array): void {
    this.hists.forEach((h, slot) => {
      const at = DONE + slot;
      const deadline = Date.now() + HELPER_TIMEOUT_MS;
      for (;;) {
        const done = Atomics.load(this.ctrl, at);
        if (done === this.gen) break;
        if (done === -this.gen) throw new Error('internal error: a PSO helper thread failed');
        if (Date.now() > deadline) throw new Error('internal error: a PSO helper thread did not answer');
        Atomics.wait(this.ctrl, at, done, 1000);
      }
      for (let i = 0; i < hist.length; i++) hist[i] = (hist[i] as number) + (h[i] as number);
    });
  }

  /** Stop and release the helper threads. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.ctrl, GEN, -1);
    Atomics.notify(this.ctrl, GEN);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
