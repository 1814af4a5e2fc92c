/**
 * threshold: choose the decision thresholds that turn probabilities into labels — a global sweep,
 * then per-label coordinate ascent on micro-F1 (labels with little support keep the global one),
 * fitted on validation and reported on holdout beside the fixed and global thresholds.
 *
 * Inputs (ctx.needs): one predictions producer (a model or ensemble-pso: a folder with
 * predictions.json; param `predictions` picks one when several are needed) and the split (param
 * `split`). Outputs: thresholds.json (read by submit), labels.csv (per label: support, threshold,
 * F1), per-label-f1.svg, metrics.json.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defineStage } from '../src/stage-api.js';
import { readLabelList } from '../src/ml/label-matrix.js';
import { findNeed, findSplit, loadModels, loadScoredSet, type ScoredSet } from '../src/ml/ensemble-inputs.js';
import { PREDICTIONS_FILE } from '../src/formats/predictions.js';
import { applyThresholds, fitThresholds } from '../src/ml/thresholds.js';
import { microF1AtThreshold, perLabel, summarize } from '../src/ml/metrics.js';
import { predictionsFingerprint, writeThresholdsFile, type ThresholdMode } from '../src/ml/thresholds-file.js';
import { barChart } from '../src/ml/svg-charts.js';
import { round6, toCsv } from '../src/ml/csv-table.js';

interface Params {
  mode: ThresholdMode;
  steps: number;
  min_support: number;
  max_passes: number;
  fixed: number;
  at_least_one: boolean;
  predictions: string;
  split: string;
}

export default defineStage<Params>({
  description:
    'Fit decision thresholds on validation (global sweep, then per-label coordinate ascent on micro-F1); report on holdout',
  deterministic: true,
  params: {
    type: 'object',
    additionalProperties: false,
    properties: {
      mode: {
        enum: ['per-label', 'global', 'fixed'],
        default: 'per-label',
        description:
          'Thresholds written for submit: per-label (fitted), global (one fitted value) or fixed (param `fixed`). All three are reported.',
      },
      steps: {
        type: 'integer',
        minimum: 2,
        maximum: 10000,
        default: 100,
        description: 'Threshold grid: candidates k/steps, k = 1..steps.',
      },
      min_support: {
        type: 'integer',
        minimum: 1,
        default: 20,
        description:
          'Labels with fewer validation images than this keep the global threshold (too few to fit one reliably).',
      },
      max_passes: {
        type: 'integer',
        minimum: 0,
        maximum: 1000,
        default: 10,
        description: 'Most coordinate-ascent passes over the labels (stops earlier when a pass changes nothing).',
      },
      fixed: {
        type: 'number',
        exclusiveMinimum: 0,
        maximum: 1,
        default: 0.5,
        description: 'The fixed threshold reported for comparison, and used in mode "fixed".',
      },
      at_least_one: {
        type: 'boolean',
        default: false,
        description: 'Give an image its most probable label when no label reaches its threshold.',
      },
      predictions: {
        type: 'string',
        default: '',
        description: 'Upstream stage whose predictions.json to threshold; empty: the only needed stage that has one.',
      },
      split: {
        type: 'string',
        default: '',
        description: 'Upstream split stage; empty: the needed stage whose output holds labels.json and holdout.jsonl.',
      },
    },
  },
  async run(ctx) {
    const p = ctx.params;
    const split = findSplit(ctx.needs, p.split || undefined);
    const others = Object.fromEntries(Object.entries(ctx.needs).filter(([name]) => name !== split.name));
    const source = findNeed(
      others,
      [PREDICTIONS_FILE],
      'predictions producer',
      'predictions',
      p.predictions || undefined,
    );
    const labels = await readLabelList(split.dir);
    const L = labels.length;
    const models = await loadModels([source]);
    const val = await loadScoredSet(split.dir, 'validation', labels, models);
    const hold = await loadScoredSet(split.dir, 'holdout', labels, models);
    for (const s of [val, hold]) {
      if (s.dropped > 0) ctx.log(`${s.split}: ${s.dropped} image(s) left out (failed download or no prediction)`);
      if (s.missedTotal > 0)
        ctx.log(`${s.split}: ${s.missedTotal} true label(s) outside labels.json (dropped by split) counted as misses`);
    }
    const vp = val.probs[0] as Float32Array;
    const hp = hold.probs[0] as Float32Array;

    const fit = fitThresholds(val.truth, vp, val.ids.length, L, {
      steps: p.steps,
      minSupport: p.min_support,
      maxPasses: p.max_passes,
      extraFn: val.missedTotal,
      signal: ctx.signal,
    });
    const tunedCount = fit.tuned.reduce((a, b) => a + b, 0);
    ctx.log(
      `global threshold ${fit.global.threshold} (validation micro-F1 ${fit.global.f1.toFixed(4)}); per-label: ${tunedCount} of ${L} labels tuned in ${fit.history.length - 1} pass(es), validation micro-F1 ${fit.f1.toFixed(4)}`,
    );
    const chosen: number[] =
      p.mode === 'per-label'
        ? [...fit.thresholds]
        : new Array<number>(L).fill(p.mode === 'global' ? fit.global.threshold : p.fixed);

    const report = (s: ScoredSet, probs: Float32Array) => {
      const n = s.ids.length;
      const pred = applyThresholds(probs, n, L, chosen, p.at_least_one);
      return {
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
      `holdout micro-F1: fixed ${p.fixed} ${rh.fixed.toFixed(4)}, global ${rh.global.toFixed(4)}, per-label ${rh.perLabel.toFixed(4)}; written (${p.mode}${p.at_least_one ? ', at least one' : ''}) ${rh.summary.micro_f1.toFixed(4)}`,
    );

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
    await writeFile(
      join(ctx.out, 'labels.csv'),
      toCsv(
        [
          'label_id',
          'threshold',
          'tuned',
          'validation_support',
          'validation_f1',
          'holdout_support',
          'holdout_f1',
          'holdout_precision',
          'holdout_recall',
        ],
        labels.map((id, l) => [
          id,
          chosen[l] as number,
          fit.tuned[l] === 1 && p.mode === 'per-label',
          pv.support[l] as number,
          round6(pv.f1[l] as number),
          ph.support[l] as number,
          round6(ph.f1[l] as number),
          round6(ph.precision[l] as number),
          round6(ph.recall[l] as number),
        ]),
      ),
    );
    // Most frequent labels first, as in the label-distribution pictures of the reference report.
    const order = labels
      .map((_, l) => l)
      .sort((a, b) => (pv.support[b] as number) - (pv.support[a] as number) || a - b);
    await writeFile(
      join(ctx.out, 'per-label-f1.svg'),
      barChart({
        title: `Holdout F1 per label (${p.mode} thresholds; most frequent first)`,
        yLabel: 'F1',
        barName: 'holdout F1',
        markerName: 'threshold',
        bars: order.map((l) => ({
          label: labels[l] as string,
          value: ph.f1[l] as number,
          marker: chosen[l] as number,
        })),
      }),
    );

    const scores = (r: typeof rv) => ({
      micro_f1: round6(r.summary.micro_f1),
      example_f1: round6(r.summary.example_f1),
      micro_precision: round6(r.summary.micro_precision),
      micro_recall: round6(r.summary.micro_recall),
      micro_f1_fixed: round6(r.fixed),
      micro_f1_global: round6(r.global),
      micro_f1_per_label: round6(r.perLabel),
      images: r.summary.images,
      true_labels_outside_model: r === rv ? val.missedTotal : hold.missedTotal,
    });
    ctx.metrics({
      validation: scores(rv),
      holdout: scores(rh),
      mode: p.mode,
      at_least_one: p.at_least_one,
      global_threshold: fit.global.threshold,
      tuned_labels: tunedCount,
      passes: fit.history.length - 1,
      source: source.name,
    });
  },
});
