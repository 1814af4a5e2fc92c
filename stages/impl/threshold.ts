/** threshold's run (the definition and params: ../threshold.ts). */
import { baselineMargins, marginText } from '../../src/ml/baseline-margins.js';
import type { StageContext } from '../../src/stage-api.js';
import { round6 } from '../../src/formats/csv.js';
import { readLabelList } from '../../src/formats/manifest.js';
import { PREDICTIONS, SPLIT } from '../../src/formats/output-kinds.js';
import { predictionsFingerprint, writeThresholdsFile } from '../../src/formats/thresholds.js';
import { findInput } from '../../src/stage-kit/inputs.js';
import { binarize, microF1AtThreshold, perLabel, summarize } from '../../src/ml/metrics.js';
import {
  loadModels,
  failedNote,
  loadScoredSet,
  predictedLabels,
  type FitSplit,
  type ScoredSet,
} from '../../src/ml/scored-set.js';
import { writeFitsTable, writeLabelTable, writePerLabelPicture, type FitRow } from '../../src/ml/threshold-outputs.js';
import { applyThresholds, fitThresholds, type ThresholdFit } from '../../src/ml/thresholds.js';
import { compareMethods, comparisonText, f1Interval, imageCounts, type Comparison } from '../../src/ml/bootstrap.js';
import { fitName, fitsOf, loadOofSet, writtenFit } from '../../src/ml/fit-on.js';
import type { ThresholdParams } from '../threshold.js';

export default async function threshold(ctx: StageContext<ThresholdParams>): Promise<void> {
  const p = ctx.params;
  const split = findInput(ctx.needs, SPLIT, { param: { name: 'split', value: p.split } });
  const source = findInput(ctx.needs, PREDICTIONS, {
    param: { name: 'predictions', value: p.predictions },
    exclude: [split],
  });
  const models = await loadModels([source]);
  // Thresholds for the split's labels the predictions cover (a model on a label subset, or an
  // ensemble no model of which predicts some label); the rest count as misses.
  const cover = predictedLabels(await readLabelList(split.dir), models);
  const labels = cover.labels;
  const L = labels.length;
  if (cover.uncovered.length > 0)
    ctx.log(
      `${source.name} predicts ${L} of ${L + cover.uncovered.length} split labels: the other ${cover.uncovered.length} count as misses`,
    );
  const val = await loadScoredSet(split.dir, 'validation', labels, models);
  const hold = await loadScoredSet(split.dir, 'holdout', labels, models);
  for (const s of [val, hold]) {
    const note = failedNote(s);
    if (note) ctx.log(note);
    if (s.missedTotal > 0)
      ctx.log(`${s.split}: ${s.missedTotal} true label(s) outside labels.json (dropped by split) counted as misses`);
  }
  const vp = val.probs[0] as Float32Array;
  const hp = hold.probs[0] as Float32Array;
  const oof = await loadOofSet('threshold', p.fit_on, split.dir, labels, models);
  if (oof) ctx.log(`out-of-fold: ${oof.ids.length} train images of ${source.name}`);

  // Fitted each way fit_on asks; the written fit by fit-on.ts's rule (never by holdout).
  const fits = new Map<FitSplit, ThresholdFit>();
  for (const f of fitsOf(p.fit_on)) {
    const set = f === 'oof' ? (oof as ScoredSet) : val;
    const one = fitThresholds(set.truth, set.probs[0] as Float32Array, set.ids.length, L, {
      steps: p.steps,
      minSupport: p.min_support,
      maxPasses: p.max_passes,
      extraFn: set.missedTotal,
      signal: ctx.signal,
    });
    fits.set(f, one);
    ctx.log(
      `fitted on ${f === 'oof' ? 'out-of-fold train' : 'validation'}: global threshold ${one.global.threshold} (${f} micro-F1 ${one.global.f1.toFixed(4)}); per-label: ${one.tuned.reduce((a, b) => a + b, 0)} of ${L} labels tuned in ${one.history.length - 1} pass(es), ${f} micro-F1 ${one.f1.toFixed(4)}`,
    );
  }
  const written = writtenFit(p.fit_on);
  const fit = fits.get(written) as ThresholdFit;
  const tunedCount = fit.tuned.reduce((a, b) => a + b, 0);
  const chosen: number[] =
    p.mode === 'per-label'
      ? [...fit.thresholds]
      : new Array<number>(L).fill(p.mode === 'global' ? fit.global.threshold : p.fixed);

  const report = (s: ScoredSet, probs: Float32Array) => {
    const n = s.ids.length;
    const pred = applyThresholds(probs, n, L, chosen, p.at_least_one);
    // Rows answered from priors get exactly the guess (submit applies no at-least-one rule to them).
    for (let i = (n - s.failed) * L; i < n * L; i++) pred[i] = (probs[i] as number) >= 1 ? 1 : 0;
    const counts = (t: number | ArrayLike<number>) => imageCounts(s.truth, binarize(probs, n, L, t), n, L, s.missed);
    return {
      written: imageCounts(s.truth, pred, n, L, s.missed),
      fixedCounts: counts(p.fixed),
      globalCounts: counts(fit.global.threshold),
      perLabelCounts: counts(fit.thresholds),
      pred,
      summary: summarize(s.truth, pred, n, L, s.missed),
      fixed: microF1AtThreshold(s.truth, probs, n, L, p.fixed, s.missed),
      global: microF1AtThreshold(s.truth, probs, n, L, fit.global.threshold, s.missed),
      perLabel: microF1AtThreshold(s.truth, probs, n, L, fit.thresholds, s.missed),
    };
  };
  const rv = report(val, vp);
  const rh = report(hold, hp);
  ctx.log(
    `holdout micro-F1: fixed ${p.fixed} ${rh.fixed.toFixed(4)}, ${fitName('global', written)} ${rh.global.toFixed(4)}, ${fitName('per-label', written)} ${rh.perLabel.toFixed(4)}; written (${p.mode}${p.at_least_one ? ', at least one' : ''}) ${rh.summary.micro_f1.toFixed(4)}`,
  );

  // Paired bootstrap over holdout images: is each refinement more than noise?
  const [perName, globalName] = [fitName('per-label', written), fitName('global', written)];
  const comparisons: Comparison[] = [
    compareMethods(
      { name: perName, counts: rh.perLabelCounts },
      { name: globalName, counts: rh.globalCounts },
      ctx.seed,
    ),
    compareMethods(
      { name: globalName, counts: rh.globalCounts },
      { name: `fixed ${p.fixed}`, counts: rh.fixedCounts },
      ctx.seed,
    ),
  ];
  const rows = fitRows(fits, val, hold, L, p.fixed, ctx.seed);
  if (fits.size > 1)
    for (const m of ['per-label', 'global']) {
      const [a, b] = [rows.find((r) => r.method === fitName(m, 'oof')), rows.find((r) => r.method === m)];
      if (a && b)
        comparisons.push(
          compareMethods({ name: a.method, counts: a.counts }, { name: b.method, counts: b.counts }, ctx.seed),
        );
    }
  for (const c of comparisons) ctx.log(`holdout ${comparisonText(c)} (bootstrap 95% over ${hold.ids.length} images)`);
  await writeFitsTable(ctx.out, rows);
  const ci = f1Interval(rh.written, ctx.seed);

  await writeThresholdsFile(ctx.out, {
    labels,
    thresholds: chosen,
    mode: p.mode,
    at_least_one: p.at_least_one,
    global: fit.global.threshold,
    fixed: p.fixed,
    steps: p.steps,
    min_support: p.min_support,
    predictions: { stage: source.name, sha256: await predictionsFingerprint(source.dir) },
  });
  const pv = perLabel(val.truth, rv.pred, val.ids.length, L);
  const ph = perLabel(hold.truth, rh.pred, hold.ids.length, L);
  await writeLabelTable(ctx.out, labels, chosen, (l) => fit.tuned[l] === 1 && p.mode === 'per-label', pv, ph);
  await writePerLabelPicture(ctx.out, labels, chosen, p.mode, pv, ph);

  const scores = (r: typeof rv, s: ScoredSet) => ({
    micro_f1: round6(r.summary.micro_f1),
    example_f1: round6(r.summary.example_f1),
    micro_precision: round6(r.summary.micro_precision),
    micro_recall: round6(r.summary.micro_recall),
    micro_f1_fixed: round6(r.fixed),
    micro_f1_global: round6(r.global),
    micro_f1_per_label: round6(r.perLabel),
    images: r.summary.images,
    failed_images: s.failed,
    true_labels_outside_model: s.missedTotal,
  });
  const margins = await baselineMargins(split.dir, rh.summary.micro_f1);
  const marginLine = marginText(margins);
  if (marginLine) ctx.log(`holdout: ${marginLine}`);
  ctx.metrics({
    margins,
    validation: scores(rv, val),
    holdout: { ...scores(rh, hold), ci_low: round6(ci.lo), ci_high: round6(ci.hi) },
    comparisons: comparisons.map((c) => ({ ...c, diff: round6(c.diff), lo: round6(c.lo), hi: round6(c.hi) })),
    mode: p.mode,
    fit_on: p.fit_on,
    fit: written,
    ...(oof ? { oof: { images: oof.ids.length, failed_images: oof.failed } } : {}),
    fits: Object.fromEntries(
      rows.map((r) => [
        r.method,
        {
          fit: r.fit,
          fit_micro_f1: r.fit_micro_f1 === null ? null : round6(r.fit_micro_f1),
          validation_micro_f1: round6(r.validation_micro_f1),
          holdout_micro_f1: round6(r.holdout_micro_f1),
          holdout_ci: [round6(r.holdout_ci_low), round6(r.holdout_ci_high)],
        },
      ]),
    ),
    at_least_one: p.at_least_one,
    global_threshold: fit.global.threshold,
    tuned_labels: tunedCount,
    passes: fit.history.length - 1,
    source: source.name,
  });
}

/**
 * The rows of fits.csv: the fixed threshold, then global and per-label thresholds of every fit,
 * each scored on validation and holdout (bootstrap 95% interval over holdout images).
 */
function fitRows(
  fits: ReadonlyMap<FitSplit, ThresholdFit>,
  val: ScoredSet,
  hold: ScoredSet,
  L: number,
  fixed: number,
  seed: number,
): Array<FitRow & { counts: Int32Array }> {
  const row = (method: string, fit: FitSplit | 'none', t: number | ArrayLike<number>, fitF1: number | null) => {
    const at = (s: ScoredSet) => microF1AtThreshold(s.truth, s.probs[0] as Float32Array, s.ids.length, L, t, s.missed);
    const n = hold.ids.length;
    const counts = imageCounts(hold.truth, binarize(hold.probs[0] as Float32Array, n, L, t), n, L, hold.missed);
    const ci = f1Interval(counts, seed);
    return {
      method,
      fit,
      fit_micro_f1: fitF1,
      validation_micro_f1: at(val),
      holdout_micro_f1: at(hold),
      holdout_ci_low: ci.lo,
      holdout_ci_high: ci.hi,
      counts,
    };
  };
  const rows = [row(`fixed ${fixed}`, 'none', fixed, null)];
  for (const [f, fit] of fits) {
    rows.push(row(fitName('global', f), f, fit.global.threshold, fit.global.f1));
    rows.push(row(fitName('per-label', f), f, fit.thresholds, fit.f1));
  }
  return rows;
}
