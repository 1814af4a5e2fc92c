/**
 * Particle swarm optimisation (maximisation) in a box, seeded and deterministic.
 *
 * Classic global-best PSO: v ← inertia·v + cognitive·r1·(personal best − x) + social·r2·(swarm best − x),
 * x ← clamp(x + v). Random numbers come from one mulberry32 stream drawn in a fixed order, so the
 * same seed and objective give the same path. Bests move only on strict improvement, so starting
 * points given in `initial` (e.g. equal weights, each single model) are never beaten by a tie.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { mulberry32 } from '../random.js';

export interface PsoOptions {
  swarmSize: number;
  /** Update rounds after the initial evaluation of the swarm. */
  iterations: number;
  inertia: number;
  /** Pull towards each particle's own best. */
  cognitive: number;
  /** Pull towards the swarm's best. */
  social: number;
  seed: number;
  /** Box bounds for every coordinate (default 0 and 1). */
  lower?: number;
  upper?: number;
  /** Largest step per coordinate per round (default 20% of the box width). */
  maxVelocity?: number;
  /** Starting positions for the first particles (the rest start uniformly at random). */
  initial?: ArrayLike<number>[];
  signal?: AbortSignal;
  /** Called after each round (round 0 is the initial swarm). */
  onIteration?: (round: PsoRound) => void;
}

export interface PsoRound {
  iteration: number;
  /** Swarm best score so far. */
  best: number;
  /** Mean of the particles' current scores. */
  mean: number;
}

export interface PsoResult {
  best: Float64Array;
  bestScore: number;
  evaluations: number;
  history: PsoRound[];
}

/**
 * Maximise `objective` over [lower, upper]^dim. Async only to let the event loop run between
 * rounds (progress reaches the engine, an abort arrives); the search itself is synchronous.
 */
export async function psoMaximize(
  objective: (x: Float64Array) => number,
  dim: number,
  opts: PsoOptions,
): Promise<PsoResult> {
  const lower = opts.lower ?? 0;
  const upper = opts.upper ?? 1;
  const vmax = opts.maxVelocity ?? 0.2 * (upper - lower);
  const n = Math.max(1, opts.swarmSize);
  const rand = mulberry32(opts.seed);
  const clamp = (v: number, lo: number, hi: number) => (v < lo ? lo : v > hi ? hi : v);

  const x: Float64Array[] = [];
  const v: Float64Array[] = [];
  for (let p = 0; p < n; p++) {
    const start = opts.initial?.[p];
    const pos = new Float64Array(dim);
    const vel = new Float64Array(dim);
    for (let d = 0; d < dim; d++) {
      // Draw both numbers even for given starts so the stream does not depend on `initial`.
      const r = rand();
      const rv = rand();
      pos[d] = start ? clamp(start[d] as number, lower, upper) : lower + r * (upper - lower);
      vel[d] = (2 * rv - 1) * vmax * 0.5;
    }
    x.push(pos);
    v.push(vel);
  }

  let evaluations = 0;
  const evaluate = (pos: Float64Array): number => {
    if (opts.signal?.aborted) throw new Error('aborted');
    evaluations++;
    const s = objective(pos);
    return Number.isFinite(s) ? s : -Infinity;
  };
  const score = x.map(evaluate);
  const pBest = x.map((pos) => Float64Array.from(pos));
  const pScore = [...score];
  let g = 0;
  for (let p = 1; p < n; p++) if ((pScore[p] as number) > (pScore[g] as number)) g = p;
  let gBest = Float64Array.from(pBest[g] as Float64Array);
  let gScore = pScore[g] as number;
  const history: PsoRound[] = [];
  const record = (iteration: number) => {
    const round = { iteration, best: gScore, mean: score.reduce((a, b) => a + b, 0) / n };
    history.push(round);
    opts.onIteration?.(round);
  };
  record(0);

  for (let it = 1; it <= opts.iterations; it++) {
    await nextTurn();
    for (let p = 0; p < n; p++) {
      const pos = x[p] as Float64Array;
      const vel = v[p] as Float64Array;
      const pb = pBest[p] as Float64Array;
      for (let d = 0; d < dim; d++) {
        const r1 = rand();
        const r2 = rand();
        const xd = pos[d] as number;
        const nv =
          opts.inertia * (vel[d] as number) +
          opts.cognitive * r1 * ((pb[d] as number) - xd) +
          opts.social * r2 * ((gBest[d] as number) - xd);
        vel[d] = clamp(nv, -vmax, vmax);
        pos[d] = clamp(xd + (vel[d] as number), lower, upper);
      }
    }
    // Synchronous update: the swarm best changes only after every particle has moved.
    for (let p = 0; p < n; p++) {
      const s = evaluate(x[p] as Float64Array);
      score[p] = s;
      if (s > (pScore[p] as number)) {
        pScore[p] = s;
        pBest[p] = Float64Array.from(x[p] as Float64Array);
      }
    }
    for (let p = 0; p < n; p++) {
      if ((pScore[p] as number) > gScore) {
        gScore = pScore[p] as number;
        gBest = Float64Array.from(pBest[p] as Float64Array);
      }
    }
    record(it);
  }
  return { best: gBest, bestScore: gScore, evaluations, history };
}
