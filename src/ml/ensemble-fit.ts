/**
 * Fitting ensemble-pso's weights: a particle swarm over raw weights in [0,1]^M, each scored after
 * normalising to sum 1 by micro-F1 at its best global threshold on the fit set (validation, or
 * out-of-fold predictions over train: fit-on.ts). Starting points are equal weights (the mean)
 * and each single model, so on its fit set the swarm can only match or beat them. Models over different label sets are weighted per label among the models that
 * predict it (label-coverage.ts).
 */
import { availableParallelism } from 'node:os';
import { hashSeed } from '../random.js';
import { normalizeWeights, WeightedF1Objective } from './ensemble.js';
import { coverageGroups, groupWeights } from './label-coverage.js';
import { psoMaximize, type PsoResult } from './pso.js';
import type { ScoredSet } from './scored-set.js';

export interface PsoSettings {
  swarm_size: number;
  iterations: number;
  inertia: number;
  cognitive: number;
  social: number;
  steps: number;
  min_threshold: number;
  /** 0: one per core, at most 8. */
  threads: number;
}

export interface PsoFit {
  weights: Float64Array;
  pso: PsoResult;
  seconds: number;
  objective: { activeEntries: number; totalEntries: number; threads: number; helperEvaluations: number };
}

export async function fitPsoWeights(
  val: ScoredSet,
  p: PsoSettings,
  ctx: {
    seed: number;
    signal: AbortSignal;
    log(m: string): void;
    progress(done: number, total: number, label?: string): void;
  },
): Promise<PsoFit> {
  const started = Date.now();
  const threads = p.threads > 0 ? p.threads : Math.min(8, availableParallelism());
  const L = val.covered[0]?.length ?? 0;
  const groups = coverageGroups(val.covered, L);
  const objective = new WeightedF1Objective(val.probs, val.truth, {
    steps: p.steps,
    minThreshold: p.min_threshold,
    extraFn: val.missedTotal,
    threads,
    groups: groups.full
      ? undefined
      : {
          labels: L,
          groupOf: groups.groupOf,
          count: groups.patterns.length,
          weightsOf: (g, w) => groupWeights(w, groups.patterns[g] as Uint8Array),
        },
  });
  ctx.log(
    `PSO: ${objective.activeEntries} of ${objective.totalEntries} ${val.split === 'oof' ? 'out-of-fold train' : 'validation'} entries can cross a threshold (the rest score below ${objective.kStart / p.steps} in every model); ${objective.threads} thread(s)`,
  );
  const M = val.probs.length;
  const initial = [
    new Float64Array(M).fill(1),
    ...val.probs.map((_, j) => Float64Array.from({ length: M }, (_, d) => (d === j ? 1 : 0))),
  ];
  let pso: PsoResult;
  try {
    pso = await psoMaximize((x) => objective.evaluate(normalizeWeights(x)).f1, M, {
      swarmSize: p.swarm_size,
      iterations: p.iterations,
      inertia: p.inertia,
      cognitive: p.cognitive,
      social: p.social,
      seed: hashSeed(ctx.seed, 'ensemble-pso'),
      initial,
      signal: ctx.signal,
      onIteration: (r) => ctx.progress(r.iteration, p.iterations, 'PSO rounds'),
    });
  } finally {
    await objective.close();
  }
  return {
    weights: normalizeWeights(pso.best),
    pso,
    seconds: (Date.now() - started) / 1000,
    objective: {
      activeEntries: objective.activeEntries,
      totalEntries: objective.totalEntries,
      threads: objective.threads,
      helperEvaluations: objective.helperEvaluations,
    },
  };
}
