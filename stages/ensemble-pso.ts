/**
 * ensemble-pso: combine several models' probabilities — arithmetic mean, harmonic mean, and a
 * weighted mean whose weights a particle swarm chooses to maximise micro-F1 at the best global
 * threshold (the metric itself, not log-loss). Weights and thresholds are fitted on validation;
 * every method is reported on the holdout beside each single model.
 *
 * Inputs (ctx.needs): every needed folder with predictions.json is a model (param `models`
 * narrows the list); the folder with labels.json + holdout.jsonl is the split (param `split`).
 * Outputs: predictions.json (+ pred-*.f32) of the chosen method for validation, holdout and test;
 * weights.json; methods.csv; convergence.csv and convergence.svg; metrics.json.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { defineStage } from '../src/stage-api.js';
import { writePredictions, type Predictions } from '../src/formats/predictions.js';
import { hashSeed } from '../src/random.js';
import { commonTestIds, findPredictionDirs, findSplit, loadModels, loadScoredSet } from '../src/ml/ensemble-inputs.js';
import { alignPredictions, readLabelList } from '../src/ml/label-matrix.js';
import {
  arithmeticMean,
  harmonicMean,
  MAX_OBJECTIVE_STEPS,
  normalizeWeights,
  weightedMean,
  WeightedF1Objective,
} from '../src/ml/ensemble.js';
import { psoMaximize, type PsoResult } from '../src/ml/pso.js';
import { scoreMethod, type MethodScore } from '../src/ml/method-scores.js';
import { lineChart } from '../src/ml/svg-charts.js';
import { round6, toCsv } from '../src/ml/csv-table.js';

interface Params {
  swarm_size: number;
  iterations: number;
  inertia: number;
  cognitive: number;
  social: number;
  steps: number;
  min_threshold: number;
  threads: number;
  method: 'pso' | 'mean' | 'harmonic';
  models: string[];
  split: string;
}

type Combine = (probs: Float32Array[]) => Float32Array;

export default defineStage<Params>({
  description:
    'Combine model probabilities (mean, harmonic mean, PSO weights maximising validation micro-F1); report every method on holdout',
  deterministic: true,
  params: {
    type: 'object',
    additionalProperties: false,
    properties: {
      swarm_size: { type: 'integer', minimum: 1, maximum: 1000, default: 20, description: 'Particles in the swarm.' },
      iterations: {
        type: 'integer',
        minimum: 0,
        maximum: 10000,
        default: 30,
        description: 'PSO update rounds after the initial swarm.',
      },
      inertia: {
        type: 'number',
        minimum: 0,
        maximum: 2,
        default: 0.72,
        description: 'Share of a particle’s velocity kept each round.',
      },
      cognitive: {
        type: 'number',
        minimum: 0,
        maximum: 5,
        default: 1.49,
        description: 'Acceleration towards each particle’s own best.',
      },
      social: {
        type: 'number',
        minimum: 0,
        maximum: 5,
        default: 1.49,
        description: 'Acceleration towards the swarm’s best.',
      },
      steps: {
        type: 'integer',
        minimum: 2,
        maximum: MAX_OBJECTIVE_STEPS,
        default: 100,
        description:
          'Threshold grid used while fitting: candidates k/steps; each set of weights is scored at its best global threshold on validation.',
      },
      min_threshold: {
        type: 'number',
        minimum: 0,
        maximum: 1,
        default: 0.05,
        description:
          'Lowest threshold considered while fitting (for every method alike). Entries below it in every model are skipped once, which makes each PSO evaluation cheaper; micro-F1 optima sit far above 0.05 in practice.',
      },
      threads: {
        type: 'integer',
        minimum: 0,
        maximum: 16,
        default: 0,
        description:
          'Threads counting each PSO evaluation (0: one per core, at most 8); each evaluation runs threaded or alone, whichever is timed faster. The result does not depend on it.',
      },
      method: {
        enum: ['pso', 'mean', 'harmonic'],
        default: 'pso',
        description: 'Which combination goes into predictions.json (all three are always reported).',
      },
      models: {
        type: 'array',
        items: { type: 'string' },
        default: [],
        description: 'Upstream stage names to combine; empty: every needed stage whose output holds predictions.json.',
      },
      split: {
        type: 'string',
        default: '',
        description:
          'Upstream split stage name; empty: the needed stage whose output holds labels.json and holdout.jsonl.',
      },
    },
  },
  async run(ctx) {
    const p = ctx.params;
    const split = findSplit(ctx.needs, p.split || undefined);
    const labels = await readLabelList(split.dir);
    const L = labels.length;
    let dirs = findPredictionDirs(ctx.needs).filter((d) => d.name !== split.name);
    if (p.models.length > 0) {
      const unknown = p.models.filter((m) => !dirs.some((d) => d.name === m));
      if (unknown.length > 0)
        throw new Error(
          `param models: ${unknown.join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not a needed stage with predictions.json (found: ${dirs.map((d) => d.name).join(', ') || 'none'})`,
        );
      dirs = dirs.filter((d) => p.models.includes(d.name));
    }
    if (dirs.length === 0)
      throw new Error('no models: needs must include at least one stage whose output holds predictions.json');
    const models = await loadModels(dirs);
    const names = models.map((m) => m.name);
    ctx.log(`ensemble of ${models.length} model(s): ${names.join(', ')}; ${L} labels`);

    const val = await loadScoredSet(split.dir, 'validation', labels, models);
    const hold = await loadScoredSet(split.dir, 'holdout', labels, models);
    for (const s of [val, hold]) {
      if (s.dropped > 0)
        ctx.log(`${s.split}: ${s.dropped} image(s) left out (failed download or missing from a model's predictions)`);
    }
    ctx.log(`validation ${val.ids.length} images, holdout ${hold.ids.length} images`);
    if (val.missedTotal + hold.missedTotal > 0) {
      ctx.log(
        `${val.missedTotal} validation and ${hold.missedTotal} holdout true labels are outside labels.json (dropped by split): counted as misses`,
      );
    }

    const scores: MethodScore[] = models.map((m, j) =>
      scoreMethod(
        m.name,
        'model',
        val,
        val.probs[j] as Float32Array,
        hold,
        hold.probs[j] as Float32Array,
        L,
        p.steps,
        p.min_threshold,
      ),
    );
    const byMean = scoreMethod(
      'mean',
      'ensemble',
      val,
      arithmeticMean(val.probs),
      hold,
      arithmeticMean(hold.probs),
      L,
      p.steps,
      p.min_threshold,
    );
    const byHarmonic = scoreMethod(
      'harmonic',
      'ensemble',
      val,
      harmonicMean(val.probs),
      hold,
      harmonicMean(hold.probs),
      L,
      p.steps,
      p.min_threshold,
    );

    // PSO over raw weights in [0,1]^M, each scored after normalising to sum 1. Starting points:
    // equal weights (the mean) and each single model, so on validation the swarm can only match
    // or beat them.
    const started = Date.now();
    const threads = p.threads > 0 ? p.threads : Math.min(8, availableParallelism());
    const objective = new WeightedF1Objective(val.probs, val.truth, {
      steps: p.steps,
      minThreshold: p.min_threshold,
      extraFn: val.missedTotal,
      threads,
    });
    ctx.log(
      `PSO: ${objective.activeEntries} of ${objective.totalEntries} validation entries can cross a threshold (the rest score below ${objective.kStart / p.steps} in every model); ${objective.threads} thread(s)`,
    );
    const M = models.length;
    const initial = [
      new Float64Array(M).fill(1),
      ...models.map((_, j) => Float64Array.from({ length: M }, (_, d) => (d === j ? 1 : 0))),
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
    const weights = normalizeWeights(pso.best);
    const psoSeconds = (Date.now() - started) / 1000;
    const byPso = scoreMethod(
      'pso',
      'ensemble',
      val,
      weightedMean(val.probs, weights),
      hold,
      weightedMean(hold.probs, weights),
      L,
      p.steps,
      p.min_threshold,
    );
    ctx.log(
      `PSO: ${pso.evaluations} evaluations in ${psoSeconds.toFixed(1)} s; validation micro-F1 ${byPso.validation_micro_f1.toFixed(4)}, holdout ${byPso.holdout_micro_f1.toFixed(4)}`,
    );
    scores.push(byMean, byHarmonic, byPso);

    const combine: Record<Params['method'], Combine> = {
      pso: (probs) => weightedMean(probs, weights),
      mean: arithmeticMean,
      harmonic: harmonicMean,
    };
    const chosen = combine[p.method];
    const chosenScore = { pso: byPso, mean: byMean, harmonic: byHarmonic }[p.method];
    const testIds = commonTestIds(models);
    const out: Predictions = {
      labels,
      splits: {
        validation: { ids: val.ids, probs: chosen(val.probs) },
        holdout: { ids: hold.ids, probs: chosen(hold.probs) },
      },
    };
    if (testIds.length > 0) {
      out.splits.test = {
        ids: testIds,
        probs: chosen(models.map((m) => alignPredictions(m.preds, 'test', testIds, labels, m.name))),
      };
    } else {
      ctx.log('no test predictions common to every model: the ensemble writes none');
    }
    await writePredictions(ctx.out, out);

    const weightMap = Object.fromEntries(names.map((n, j) => [n, round6(weights[j] as number)]));
    await writeFile(
      join(ctx.out, 'weights.json'),
      JSON.stringify(
        {
          method: p.method,
          models: names.map((n, j) => ({ stage: n, weight: weights[j] })),
          threshold: byPso.threshold,
          validation_micro_f1: pso.bestScore,
        },
        null,
        2,
      ) + '\n',
    );
    await writeFile(
      join(ctx.out, 'methods.csv'),
      toCsv(
        [
          'method',
          'kind',
          'threshold',
          'validation_micro_f1',
          'holdout_micro_f1',
          'holdout_example_f1',
          'holdout_micro_f1_at_0_5',
        ],
        scores.map((s) => [
          s.method,
          s.kind,
          s.threshold,
          round6(s.validation_micro_f1),
          round6(s.holdout_micro_f1),
          round6(s.holdout_example_f1),
          round6(s.holdout_micro_f1_at_0_5),
        ]),
      ),
    );
    await writeFile(
      join(ctx.out, 'convergence.csv'),
      toCsv(
        ['iteration', 'best', 'mean'],
        pso.history.map((r) => [r.iteration, round6(r.best), round6(r.mean)]),
      ),
    );
    const bestSingle = scores
      .filter((s) => s.kind === 'model')
      .reduce((a, b) => (b.validation_micro_f1 > a.validation_micro_f1 ? b : a));
    const flat = (y: number): Array<[number, number]> => [
      [0, y],
      [Math.max(1, p.iterations), y],
    ];
    await writeFile(
      join(ctx.out, 'convergence.svg'),
      lineChart({
        title: `PSO convergence (${M} models, swarm ${p.swarm_size})`,
        xLabel: 'round',
        yLabel: 'validation micro-F1',
        series: [
          { name: 'swarm best', points: pso.history.map((r) => [r.iteration, r.best]) },
          { name: 'swarm mean', points: pso.history.map((r) => [r.iteration, r.mean]) },
          {
            name: `mean of models (${byMean.validation_micro_f1.toFixed(4)})`,
            points: flat(byMean.validation_micro_f1),
          },
          {
            name: `best single: ${bestSingle.method} (${bestSingle.validation_micro_f1.toFixed(4)})`,
            points: flat(bestSingle.validation_micro_f1),
          },
        ],
      }),
    );

    ctx.metrics({
      validation: { micro_f1: round6(chosenScore.validation_micro_f1), images: val.ids.length },
      holdout: {
        micro_f1: round6(chosenScore.holdout_micro_f1),
        example_f1: round6(chosenScore.holdout_example_f1),
        micro_f1_at_0_5: round6(chosenScore.holdout_micro_f1_at_0_5),
        images: hold.ids.length,
      },
      method: p.method,
      threshold: chosenScore.threshold,
      weights: weightMap,
      methods: Object.fromEntries(
        scores.map((s) => [
          s.method,
          {
            kind: s.kind,
            threshold: s.threshold,
            validation_micro_f1: round6(s.validation_micro_f1),
            holdout_micro_f1: round6(s.holdout_micro_f1),
          },
        ]),
      ),
      pso: {
        evaluations: pso.evaluations,
        seconds: round6(psoSeconds),
        active_entries: objective.activeEntries,
        entries: objective.totalEntries,
        threads: objective.threads,
        threaded_evaluations: objective.helperEvaluations,
      },
    });
  },
});
