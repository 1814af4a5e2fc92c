/**
 * ensemble-pso's reports beside its predictions: `weights.json` (the chosen method, each model's
 * PSO weight, the threshold, what they were fitted on), `methods.csv` (every model and combination,
 * per fit — validation, or out-of-fold train rows named method@oof — scored on holdout with a
 * bootstrap 95% interval), `convergence.csv` and `convergence.svg` (the swarm's best and mean per round
 * against the mean of models and the best single model).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { lineChart } from '../charts/line-chart.js';
import { round6, toCsv } from '../formats/csv.js';
import type { MethodScore } from './method-scores.js';
import type { PsoResult } from './pso.js';
import type { FitSplit } from './scored-set.js';

export async function writeWeights(
  out: string,
  w: {
    method: string;
    names: string[];
    /** Labels each model predicts (all of the ensemble's, or a subset). */
    labels: number[];
    weights: Float64Array | number[];
    threshold: number;
    /** What the weights and threshold were fitted on, and the micro-F1 there. */
    fit: FitSplit;
    fitMicroF1: number;
  },
): Promise<void> {
  const doc = {
    method: w.method,
    fit: w.fit,
    models: w.names.map((n, j) => ({ stage: n, weight: w.weights[j], labels: w.labels[j] })),
    threshold: w.threshold,
    [`${w.fit}_micro_f1`]: w.fitMicroF1,
  };
  await writeFile(join(out, 'weights.json'), JSON.stringify(doc, null, 2) + '\n');
}

/** methods.csv; `labelsOf` gives how many labels each row predicts (a model on a subset: fewer). */
export async function writeMethodsTable(
  out: string,
  scores: readonly MethodScore[],
  labelsOf: (s: MethodScore) => number,
): Promise<void> {
  const header = [
    'method',
    'kind',
    'fit',
    'threshold',
    'fit_micro_f1',
    'validation_micro_f1',
    'holdout_micro_f1',
    'holdout_ci_low',
    'holdout_ci_high',
    'holdout_example_f1',
    'holdout_micro_f1_at_0_5',
    'labels',
  ];
  const rows = scores.map((s) => [
    s.method,
    s.kind,
    s.fit,
    s.threshold,
    round6(s.fit_micro_f1),
    round6(s.validation_micro_f1),
    round6(s.holdout_micro_f1),
    round6(s.holdout_ci_low),
    round6(s.holdout_ci_high),
    round6(s.holdout_example_f1),
    round6(s.holdout_micro_f1_at_0_5),
    labelsOf(s),
  ]);
  await writeFile(join(out, 'methods.csv'), toCsv(header, rows));
}

export async function writeConvergence(
  out: string,
  pso: PsoResult,
  ref: {
    models: number;
    fit: FitSplit;
    swarm: number;
    iterations: number;
    mean: MethodScore;
    bestSingle: MethodScore;
  },
): Promise<void> {
  await writeFile(
    join(out, 'convergence.csv'),
    toCsv(
      ['iteration', 'best', 'mean'],
      pso.history.map((r) => [r.iteration, round6(r.best), round6(r.mean)]),
    ),
  );
  const flat = (y: number): Array<[number, number]> => [
    [0, y],
    [Math.max(1, ref.iterations), y],
  ];
  const title = `PSO convergence (${ref.models} models, swarm ${ref.swarm})`;
  const svg = lineChart({
    label: title,
    standalone: { title },
    width: 640,
    height: 360,
    integerX: true,
    xLabel: 'round',
    yLabel: `${ref.fit === 'oof' ? 'out-of-fold train' : 'validation'} micro-F1`,
    series: [
      { name: 'swarm best', points: pso.history.map((r) => [r.iteration, r.best]) },
      { name: 'swarm mean', points: pso.history.map((r) => [r.iteration, r.mean]) },
      {
        name: `mean of models (${ref.mean.fit_micro_f1.toFixed(4)})`,
        points: flat(ref.mean.fit_micro_f1),
        dashed: true,
      },
      {
        name: `best single: ${ref.bestSingle.method} (${ref.bestSingle.fit_micro_f1.toFixed(4)})`,
        points: flat(ref.bestSingle.fit_micro_f1),
        dashed: true,
      },
    ],
  });
  await writeFile(join(out, 'convergence.svg'), svg);
}
