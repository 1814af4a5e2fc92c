/** ensemble-pso's run (the definition and params: ../ensemble-pso.ts). */
import { baselineMargins, marginText } from '../../src/ml/baseline-margins.js';
import type { StageContext } from '../../src/stage-api.js';
import { round6 } from '../../src/formats/csv.js';
import { readLabelList } from '../../src/formats/manifest.js';
import { PREDICTIONS, SPLIT } from '../../src/formats/output-kinds.js';
import { writePredictions, type Predictions } from '../../src/formats/predictions.js';
import { findInput, findInputs } from '../../src/stage-kit/inputs.js';
import { coveredHarmonic, coveredMean, coveredWeightedMean } from '../../src/ml/label-coverage.js';
import { fitPsoWeights } from '../../src/ml/ensemble-fit.js';
import { writeConvergence, writeMethodsTable, writeWeights } from '../../src/ml/ensemble-outputs.js';
import { alignCovered } from '../../src/ml/label-matrix.js';
import { scoreMethod, type MethodScore } from '../../src/ml/method-scores.js';
import {
  commonTestIds,
  loadModels,
  failedNote,
  loadScoredSet,
  predictedLabels,
  type FitSplit,
  type ScoredSet,
} from '../../src/ml/scored-set.js';
import { fitName, fitsOf, loadOofSet, writtenFit } from '../../src/ml/fit-on.js';
import { compareMethods, comparisonText, type Comparison } from '../../src/ml/bootstrap.js';
import type { EnsembleParams } from '../ensemble-pso.js';

type Combine = (probs: Float32Array[]) => Float32Array;

export default async function ensemblePso(ctx: StageContext<EnsembleParams>): Promise<void> {
  const p = ctx.params;
  const split = findInput(ctx.needs, SPLIT, { param: { name: 'split', value: p.split } });
  const splitLabels = await readLabelList(split.dir);
  const dirs = findInputs(ctx.needs, PREDICTIONS, {
    exclude: [split],
    names: p.models,
    param: { name: 'models', value: undefined },
  });
  if (dirs.length === 0)
    throw new Error('no models: needs must include at least one stage whose output holds predictions.json');
  const models = await loadModels(dirs);
  const names = models.map((m) => m.name);
  // The labels the ensemble predicts: every split label some model predicts. Models on label
  // subsets (train-head min_count/max_count/labels) are combined per label among those covering it.
  const cover = predictedLabels(splitLabels, models);
  const labels = cover.labels;
  const L = labels.length;
  ctx.log(
    `ensemble of ${models.length} model(s): ${models.map((m) => `${m.name} (${m.preds.labels.length} labels)`).join(', ')}; ${L} of ${splitLabels.length} split labels predicted`,
  );
  if (cover.uncovered.length > 0)
    ctx.log(
      `${cover.uncovered.length} split label(s) predicted by no model (counted as misses): ${cover.uncovered.slice(0, 10).join(' ')}${cover.uncovered.length > 10 ? ' …' : ''}`,
    );

  const val = await loadScoredSet(split.dir, 'validation', labels, models);
  const hold = await loadScoredSet(split.dir, 'holdout', labels, models);
  for (const s of [val, hold]) {
    const note = failedNote(s);
    if (note) ctx.log(note);
  }
  ctx.log(`validation ${val.ids.length} images, holdout ${hold.ids.length} images`);
  if (val.missedTotal + hold.missedTotal > 0) {
    ctx.log(
      `${val.missedTotal} validation and ${hold.missedTotal} holdout true labels are outside labels.json (dropped by split): counted as misses`,
    );
  }

  // Out-of-fold predictions over train: fitted on when fit_on asks, passed on to threshold whenever
  // every model has them.
  const oof = await loadOofSet('ensemble-pso', p.fit_on, split.dir, labels, models, true);
  if (oof)
    ctx.log(`out-of-fold: ${oof.ids.length} train images${oof.failed ? ` (${oof.failed} answered from priors)` : ''}`);
  // Coverage is per model and label, the same in every split.
  const coverage = val.covered;
  const modelLabels = coverage.map((c) => c.reduce((a, b) => a + b, 0));
  const mean: Combine = (probs) => coveredMean(probs, coverage, L);
  const harmonic: Combine = (probs) => coveredHarmonic(probs, coverage, L);

  // Every model and combination fitted each way fit_on asks; rows of other fits than validation
  // are named method@oof.
  const fits = new Map<FitSplit, FitResult>();
  const scores: MethodScore[] = [];
  for (const f of fitsOf(p.fit_on)) {
    const set = f === 'oof' ? (oof as ScoredSet) : val;
    const scoreOf = (method: string, kind: MethodScore['kind'], combine: Combine): MethodScore =>
      scoreMethod(
        fitName(method, f),
        kind,
        {
          fit: { set, probs: combine(set.probs) },
          hold: { set: hold, probs: combine(hold.probs) },
          validation: f === 'validation' ? undefined : { set: val, probs: combine(val.probs) },
        },
        L,
        p.steps,
        p.min_threshold,
        ctx.seed,
      );
    const own = models.map((m, j) => scoreOf(m.name, 'model', (probs) => probs[j] as Float32Array));
    const byMean = scoreOf('mean', 'ensemble', mean);
    const byHarmonic = scoreOf('harmonic', 'ensemble', harmonic);
    const fit = await fitPsoWeights(set, p, ctx);
    const pso: Combine = (probs) => coveredWeightedMean(probs, fit.weights, coverage, L);
    const byPso = scoreOf('pso', 'ensemble', pso);
    ctx.log(
      `PSO fitted on ${f === 'oof' ? 'out-of-fold train' : 'validation'}: ${fit.pso.evaluations} evaluations in ${fit.seconds.toFixed(1)} s; ${f} micro-F1 ${byPso.fit_micro_f1.toFixed(4)}, holdout ${byPso.holdout_micro_f1.toFixed(4)}`,
    );
    scores.push(...own, byMean, byHarmonic, byPso);
    fits.set(f, {
      fit,
      own,
      combine: { pso, mean, harmonic },
      score: { pso: byPso, mean: byMean, harmonic: byHarmonic },
    });
  }
  const written = writtenFit(p.fit_on);
  const { fit, own, combine, score } = fits.get(written) as FitResult;
  const byPso = score.pso;
  const byMean = score.mean;
  const chosen = combine[p.method];
  const chosenScore = score[p.method];
  const testIds = commonTestIds(models);
  const out: Predictions = {
    labels,
    splits: {
      validation: { ids: val.ids, probs: chosen(val.probs) },
      holdout: { ids: hold.ids, probs: chosen(hold.probs) },
      ...(oof ? { oof: { ids: oof.ids, probs: chosen(oof.probs) } } : {}),
    },
  };
  if (testIds.length > 0) {
    const test = models.map((m) => alignCovered(m.preds, 'test', testIds, labels, m.name).probs);
    out.splits.test = { ids: testIds, probs: chosen(test) };
  } else {
    ctx.log('no test predictions common to every model: the ensemble writes none');
  }
  await writePredictions(ctx.out, out);
  await writeWeights(ctx.out, {
    method: p.method,
    names,
    labels: modelLabels,
    weights: fit.weights,
    threshold: byPso.threshold,
    fit: written,
    fitMicroF1: fit.pso.bestScore,
  });
  await writeMethodsTable(ctx.out, scores, (s) =>
    s.kind === 'model' ? (modelLabels[names.indexOf(s.method)] ?? L) : L,
  );
  const bestSingle = own.reduce((a, b) => (b.fit_micro_f1 > a.fit_micro_f1 ? b : a));
  const comparisons = compareAll(scores, chosenScore, bestSingle, ctx.seed);
  if (fits.size > 1) comparisons.push(...compareFits(scores, ctx.seed));
  for (const c of comparisons) ctx.log(`holdout ${comparisonText(c)} (bootstrap 95% over ${hold.ids.length} images)`);
  await writeConvergence(ctx.out, fit.pso, {
    models: models.length,
    fit: written,
    swarm: p.swarm_size,
    iterations: p.iterations,
    mean: byMean,
    bestSingle,
  });

  const margins = await baselineMargins(split.dir, chosenScore.holdout_micro_f1);
  const marginLine = marginText(margins);
  if (marginLine) ctx.log(`holdout: ${marginLine}`);
  ctx.metrics({
    margins,
    validation: {
      micro_f1: round6(chosenScore.validation_micro_f1),
      images: val.ids.length,
      failed_images: val.failed,
    },
    holdout: {
      micro_f1: round6(chosenScore.holdout_micro_f1),
      example_f1: round6(chosenScore.holdout_example_f1),
      micro_f1_at_0_5: round6(chosenScore.holdout_micro_f1_at_0_5),
      images: hold.ids.length,
      failed_images: hold.failed,
      ci_low: round6(chosenScore.holdout_ci_low),
      ci_high: round6(chosenScore.holdout_ci_high),
    },
    method: p.method,
    fit_on: p.fit_on,
    fit: written,
    ...(oof ? { oof: { images: oof.ids.length, failed_images: oof.failed } } : {}),
    labels: {
      predicted: L,
      of: splitLabels.length,
      per_model: Object.fromEntries(names.map((n, j) => [n, modelLabels[j]])),
    },
    threshold: chosenScore.threshold,
    weights: Object.fromEntries(names.map((n, j) => [n, round6(fit.weights[j] as number)])),
    methods: Object.fromEntries(
      scores.map((s) => [
        s.method,
        {
          kind: s.kind,
          fit: s.fit,
          threshold: s.threshold,
          fit_micro_f1: round6(s.fit_micro_f1),
          validation_micro_f1: round6(s.validation_micro_f1),
          holdout_micro_f1: round6(s.holdout_micro_f1),
          holdout_ci: [round6(s.holdout_ci_low), round6(s.holdout_ci_high)],
        },
      ]),
    ),
    comparisons: comparisons.map((c) => ({ ...c, diff: round6(c.diff), lo: round6(c.lo), hi: round6(c.hi) })),
    pso: {
      evaluations: fit.pso.evaluations,
      seconds: round6(fit.seconds),
      active_entries: fit.objective.activeEntries,
      entries: fit.objective.totalEntries,
      threads: fit.objective.threads,
      threaded_evaluations: fit.objective.helperEvaluations,
    },
  });
}

/**
 * The comparisons the README makes, each paired over the same holdout images: PSO against the
 * plain mean, and the chosen method against the best single model (by validation).
 */
function compareAll(scores: MethodScore[], chosen: MethodScore, bestSingle: MethodScore, seed: number): Comparison[] {
  const by = (m: string): MethodScore | undefined => scores.find((s) => s.method === m && s.fit === chosen.fit);
  const pairs: Array<[MethodScore | undefined, MethodScore | undefined]> = [
    [by(fitName('pso', chosen.fit)), by(fitName('mean', chosen.fit))],
    [chosen, bestSingle],
  ];
  return pairs.flatMap(([a, b]) =>
    a && b && a !== b
      ? [
          compareMethods(
            { name: a.method, counts: a.holdout_counts },
            { name: b.method, counts: b.holdout_counts },
            seed,
          ),
        ]
      : [],
  );
}

interface FitResult {
  fit: Awaited<ReturnType<typeof fitPsoWeights>>;
  /** The single models' rows of this fit. */
  own: MethodScore[];
  combine: Record<EnsembleParams['method'], Combine>;
  score: Record<EnsembleParams['method'], MethodScore>;
}

/** fit_on both: each combination fitted on out-of-fold train against the same one fitted on validation. */
function compareFits(scores: MethodScore[], seed: number): Comparison[] {
  return scores
    .filter((s) => s.fit === 'oof' && s.kind === 'ensemble')
    .flatMap((a) => {
      const b = scores.find((s) => s.fit === 'validation' && fitName(s.method, 'oof') === a.method);
      return b
        ? [
            compareMethods(
              { name: a.method, counts: a.holdout_counts },
              { name: b.method, counts: b.holdout_counts },
              seed,
            ),
          ]
        : [];
    });
}
