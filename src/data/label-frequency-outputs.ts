/**
 * split's label-frequency outputs: `label-frequency.csv` (per label: counts in train, validation
 * and holdout, shares, whether it was kept) and `label-distribution.svg` (train beside
 * validation + holdout, most frequent label first).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { groupedBarChart } from '../charts/bar-chart.js';
import { PALETTE } from '../charts/svg.js';
import { toCsv } from '../formats/csv.js';
import type { LabelCounter } from './label-stats.js';

export type SubsetCounts = Record<'train' | 'validation' | 'holdout', LabelCounter>;

export async function writeFrequencyTable(
  file: string,
  ranked: readonly string[],
  names: ReadonlyMap<string, string>,
  kept: ReadonlySet<string>,
  c: SubsetCounts,
): Promise<void> {
  const share = (n: number, of: number): string => (of ? (n / of).toFixed(5) : '0');
  const rows = ranked.map((l) => {
    const [t, v, h] = [c.train.count(l), c.validation.count(l), c.holdout.count(l)];
    return [
      l,
      names.get(l) ?? '',
      t,
      v,
      h,
      share(t, c.train.images),
      share(v + h, c.validation.images + c.holdout.images),
      kept.has(l) ? 1 : 0,
    ];
  });
  const header = ['labelId', 'labelName', 'train', 'validation', 'holdout', 'trainShare', 'validationShare', 'kept'];
  await writeFile(file, toCsv(header, rows));
}

export async function writeDistributionPicture(
  out: string,
  ranked: readonly string[],
  names: ReadonlyMap<string, string>,
  c: SubsetCounts,
): Promise<void> {
  const valImages = c.validation.images + c.holdout.images;
  const title = `Label frequency: share of images per label (${c.train.images} train, ${valImages} validation+holdout)`;
  const svg = groupedBarChart({
    label: title,
    standalone: { title },
    yLabel: '% of images',
    categories: ranked.map((l) => names.get(l) ?? l),
    series: [
      {
        name: 'train',
        color: PALETTE[0],
        values: ranked.map((l) => (c.train.images ? (100 * c.train.count(l)) / c.train.images : 0)),
      },
      {
        name: 'validation + holdout',
        color: PALETTE[1],
        values: ranked.map((l) => (valImages ? (100 * (c.validation.count(l) + c.holdout.count(l))) / valImages : 0)),
      },
    ],
    format: (v) => `${v.toFixed(1)}%`,
  });
  // SVG only: a rasterised copy would draw its text with whatever fonts the machine has, and
  // split's bytes are meant to be the same on every machine (docs/reproducibility.md).
  await writeFile(join(out, 'label-distribution.svg'), svg);
}
