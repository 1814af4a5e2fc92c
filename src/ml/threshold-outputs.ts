/**
 * threshold's per-label reports: `labels.csv` (per label: threshold, whether it was tuned,
 * support and F1 on validation and holdout, holdout precision and recall) and `per-label-f1.svg`
 * (holdout F1 per label with its threshold, most frequent label first), and `fits.csv` (the fixed,
 * global and per-label thresholds of every fit — validation, or out-of-fold train rows named
 * method@oof — on validation and holdout with a bootstrap 95% interval).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { groupedBarChart } from '../charts/bar-chart.js';
import { round6, toCsv } from '../formats/csv.js';
import type { PerLabel } from './metrics.js';

export async function writeLabelTable(
  out: string,
  labels: readonly string[],
  thresholds: readonly number[],
  tuned: (l: number) => boolean,
  val: PerLabel,
  hold: PerLabel,
): Promise<void> {
  const header = [
    'label_id',
    'threshold',
    'tuned',
    'validation_support',
    'validation_f1',
    'holdout_support',
    'holdout_f1',
    'holdout_precision',
    'holdout_recall',
  ];
  const rows = labels.map((id, l) => [
    id,
    thresholds[l] as number,
    tuned(l),
    val.support[l] as number,
    round6(val.f1[l] as number),
    hold.support[l] as number,
    round6(hold.f1[l] as number),
    round6(hold.precision[l] as number),
    round6(hold.recall[l] as number),
  ]);
  await writeFile(join(out, 'labels.csv'), toCsv(header, rows));
}

export async function writePerLabelPicture(
  out: string,
  labels: readonly string[],
  thresholds: readonly number[],
  mode: string,
  val: PerLabel,
  hold: PerLabel,
): Promise<void> {
  // Most frequent labels first, as in the label-distribution pictures of the reference report.
  const order = labels
    .map((_, l) => l)
    .sort((a, b) => (val.support[b] as number) - (val.support[a] as number) || a - b);
  const title = `Holdout F1 per label (${mode} thresholds; most frequent first)`;
  const svg = groupedBarChart({
    label: title,
    standalone: { title },
    yLabel: 'F1',
    categories: order.map((l) => labels[l] as string),
    series: [{ name: 'holdout F1', values: order.map((l) => hold.f1[l] as number) }],
    markers: { name: 'threshold', values: order.map((l) => thresholds[l] as number) },
    yMaxAtLeast: 1,
  });
  await writeFile(join(out, 'per-label-f1.svg'), svg);
}

/** One row of fits.csv. */
export interface FitRow {
  method: string;
  /** What it was fitted on ('none': the fixed threshold). */
  fit: string;
  /** micro-F1 on the fit set (null: not fitted). */
  fit_micro_f1: number | null;
  validation_micro_f1: number;
  holdout_micro_f1: number;
  holdout_ci_low: number;
  holdout_ci_high: number;
}

export async function writeFitsTable(out: string, rows: readonly FitRow[]): Promise<void> {
  const header = [
    'method',
    'fit',
    'fit_micro_f1',
    'validation_micro_f1',
    'holdout_micro_f1',
    'holdout_ci_low',
    'holdout_ci_high',
  ];
  await writeFile(
    join(out, 'fits.csv'),
    toCsv(
      header,
      rows.map((r) => [
        r.method,
        r.fit,
        r.fit_micro_f1 === null ? '' : round6(r.fit_micro_f1),
        round6(r.validation_micro_f1),
        round6(r.holdout_micro_f1),
        round6(r.holdout_ci_low),
        round6(r.holdout_ci_high),
      ]),
    ),
  );
}
