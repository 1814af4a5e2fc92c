/**
 * The label distribution of train beside validation, from the split stage's output: its
 * label-frequency CSV (wide `label,train,validation` or long `label,set,count`, counts or
 * shares), else counted from `train.jsonl` and `validation.jsonl`. Values come out as percent
 * of the set's images when image counts are known, else percent of the set's label occurrences.
 */
import { join } from 'node:path';
import { columnOf, numberAt, type CsvTable } from '../formats/csv.js';
import { numberAtPath } from '../util/flatten.js';
import type { StageView } from './report-data.js';
import { eachJsonLine, findFile, readCsv } from './stage-files.js';

export const SETS = ['train', 'validation'] as const;
export type SetName = (typeof SETS)[number];

export interface LabelDistribution {
  /** Label ids, most frequent in train first. */
  labels: string[];
  /** Names by label id, when the table has a name column. */
  names: Map<string, string>;
  /** Percent per label, per set (NaN where a set lacks the label). */
  percent: Record<SetName, number[]>;
  unit: 'images' | 'label occurrences';
  /** The file it was read from (relative to the stage output). */
  source: string;
}

const SHARE = /share|frac|pct|percent|ratio/;
const SUFFIX = '([_\\- ]?(share|count|counts|images|n|frac|fraction|pct|percent|ratio|freq|frequency))?$';
/** Wide-format column names of each set: `train`, `train_count`, `trainShare`, `val_share`, ... */
const SET_COLUMN: Record<SetName, RegExp> = {
  train: new RegExp(`^train(ing)?${SUFFIX}`),
  validation: new RegExp(`^val(id|idation)?${SUFFIX}`),
};

/** Read the distribution from a stage output folder, or undefined when it has none. */
export async function readLabelDistribution(
  stage: StageView & { out: string },
): Promise<LabelDistribution | undefined> {
  const csv = await findFile(stage.out, /^label[-_]freq\w*\.csv$/i);
  if (csv) {
    const t = await readCsv(csv);
    const dist = t && fromTable(t, stage.metrics);
    if (dist) return { ...dist, source: csv.slice(stage.out.length + 1) };
  }
  return fromManifests(stage.out);
}

/** Counts (or shares) per set and label, in table order. */
function countsOf(t: CsvTable): { counts: Record<SetName, Map<string, number>>; share: boolean } | undefined {
  const labelCol = labelColumn(t);
  const counts: Record<SetName, Map<string, number>> = { train: new Map(), validation: new Map() };
  const setCol = columnOf(t, 'set', 'split', 'subset');
  if (setCol >= 0) {
    const valueCol = columnOf(t, 'count', 'images', 'n', 'frequency', 'occurrences', 'share', 'fraction', 'percent');
    if (valueCol < 0) return undefined;
    for (const r of t.rows) {
      const set = normalizeSet(r[setCol] ?? '');
      if (set) counts[set].set(r[labelCol] ?? '', numberAt(r, valueCol));
    }
    return { counts, share: SHARE.test(t.header[valueCol] ?? '') };
  }
  let share = true;
  for (const set of SETS) {
    const cols = t.header.map((h, i) => ({ h, i })).filter(({ h }) => SET_COLUMN[set].test(h));
    const col = cols.find(({ h }) => SHARE.test(h)) ?? cols[0];
    if (!col) return undefined;
    share &&= SHARE.test(col.h);
    for (const r of t.rows) counts[set].set(r[labelCol] ?? '', numberAt(r, col.i));
  }
  return { counts, share };
}

function labelColumn(t: CsvTable): number {
  return Math.max(0, columnOf(t, 'label_id', 'labelid', 'label', 'label_name', 'labelname', 'id'));
}

/** Label names from a name column beside the id column, if the table has one. */
function namesOf(t: CsvTable): Map<string, string> {
  const id = labelColumn(t);
  const name = columnOf(t, 'label_name', 'labelname', 'name');
  if (name < 0 || name === id) return new Map();
  return new Map(t.rows.filter((r) => r[name]).map((r) => [r[id] ?? '', r[name] as string]));
}

function normalizeSet(s: string): SetName | undefined {
  const v = s.trim().toLowerCase();
  if (v === 'train' || v === 'training') return 'train';
  if (v === 'validation' || v === 'val' || v === 'valid') return 'validation';
  return undefined;
}

function fromTable(t: CsvTable, metrics: Record<string, unknown>): Omit<LabelDistribution, 'source'> | undefined {
  const names = namesOf(t);
  const got = countsOf(t);
  if (!got) return undefined;
  const labels = [...new Set([...got.counts.train.keys(), ...got.counts.validation.keys()])].filter((l) => l !== '');
  if (labels.length === 0) return undefined;
  const percent = {} as Record<SetName, number[]>;
  let unit: LabelDistribution['unit'] = 'images';
  for (const set of SETS) {
    const values = labels.map((l) => got.counts[set].get(l) ?? Number.NaN);
    if (got.share) {
      // Shares may be written as fractions (0..1) or already as percent.
      const scale = values.some((v) => v > 1) ? 1 : 100;
      percent[set] = values.map((v) => v * scale);
      continue;
    }
    const images =
      numberAtPath(metrics, `${set}.images`) ??
      numberAtPath(metrics, `images.${set}`) ??
      numberAtPath(metrics, `counts.${set}`);
    const total = images ?? values.filter(Number.isFinite).reduce((a, b) => a + b, 0);
    if (images === undefined) unit = 'label occurrences';
    percent[set] = values.map((v) => (total > 0 ? (v / total) * 100 : Number.NaN));
  }
  return sortByTrain({ labels, names, percent, unit });
}

/** Count labels per image from the split's JSON-lines sets (streamed). */
async function fromManifests(dir: string): Promise<LabelDistribution | undefined> {
  const counts: Record<SetName, Map<string, number>> = { train: new Map(), validation: new Map() };
  const images: Record<SetName, number> = { train: 0, validation: 0 };
  for (const set of SETS) {
    const found = await eachJsonLine(join(dir, `${set}.jsonl`), (line) => {
      const labels = Array.isArray(line.labels) ? line.labels : [];
      images[set]++;
      for (const l of new Set(labels.map(String))) counts[set].set(l, (counts[set].get(l) ?? 0) + 1);
    });
    if (!found) return undefined;
  }
  const labels = [...new Set([...counts.train.keys(), ...counts.validation.keys()])];
  if (labels.length === 0) return undefined;
  const percent = {} as Record<SetName, number[]>;
  for (const set of SETS)
    percent[set] = labels.map((l) => (images[set] > 0 ? ((counts[set].get(l) ?? 0) / images[set]) * 100 : Number.NaN));
  return {
    ...sortByTrain({ labels, names: new Map(), percent, unit: 'images' }),
    source: 'train.jsonl, validation.jsonl',
  };
}

function sortByTrain(d: Omit<LabelDistribution, 'source'>): Omit<LabelDistribution, 'source'> {
  const key = (i: number) => (Number.isFinite(d.percent.train[i]) ? (d.percent.train[i] as number) : -1);
  const order = d.labels.map((_, i) => i).sort((a, b) => key(b) - key(a) || a - b);
  return {
    ...d,
    labels: order.map((i) => d.labels[i] as string),
    percent: {
      train: order.map((i) => d.percent.train[i] as number),
      validation: order.map((i) => d.percent.validation[i] as number),
    },
  };
}
