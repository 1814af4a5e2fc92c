/**
 * What `tailor exp show` (text, Markdown, CSV, JSON), `exp show --html` and the report's
 * experiments section all show: the baseline rows (each pipeline's last plain run), the
 * experiment rows, the param and metric columns, each experiment's differences from its
 * baseline, and the best value per metric column. One model, so every view agrees.
 */
import { canonicalJson } from '../run/canonical-json.js';
import { lowerIsBetter, shortNames } from './column-names.js';
import { differingKeys } from './flat.js';
import type { ExpRun } from './history.js';

export interface ShowOptions {
  /** Every param and every metric, not only the changed params and headline metrics. */
  all: boolean;
  /** Only these columns, in this order (a column's short title or full key, else a part of it). */
  columns: string[];
  /** Sort experiment rows by this column (title or key; metrics best first); baselines stay on top. */
  sortBy?: string;
  /** The headline metric path inside each stage's metrics (`holdout.micro_f1`). */
  headline: string;
  /** Metric keys shown whatever else is chosen (the report's comparison metric). */
  also?: string[];
}

export interface ShowColumn {
  kind: 'param' | 'metric';
  /** Full dotted key: `train-head.dropout`, `train-head.holdout.micro_f1`. */
  key: string;
  /** Short title for narrow tables. */
  title: string;
  /** Metrics: which way is better. */
  better?: 'higher' | 'lower';
}

export interface ShowModel {
  /** Baseline rows first, then experiments (oldest first unless sorted). */
  rows: ExpRun[];
  params: ShowColumn[];
  metrics: ShowColumn[];
  /** Per pipeline, its baseline row (absent: that pipeline has no plain run). */
  baselines: Map<string, ExpRun>;
  /** Metric key -> the best value among the rows. */
  best: Map<string, number>;
  /** Whether the metric columns are the headline metric of each stage. */
  headlineOnly: boolean;
  headline: string;
  hiddenParams: number;
  hiddenMetrics: number;
}

/** How many metric columns to show when no stage reports the headline metric. */
const FALLBACK_METRICS = 6;

function unique<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}

/** The columns a `--columns` item names: exact title or key first, else those containing it. */
function pick(cols: ShowColumn[], item: string): ShowColumn[] {
  const exact = cols.filter((c) => c.title === item || c.key === item);
  return exact.length > 0 ? exact : cols.filter((c) => c.key.includes(item));
}

export function buildShowModel(experiments: ExpRun[], baselines: ExpRun[], opts: ShowOptions): ShowModel {
  const all = [...baselines, ...experiments];
  const stages = new Set(all.flatMap((r) => Object.keys(r.stages)));
  const allParams = unique(all.flatMap((r) => Object.keys(r.params))).sort();
  const allMetrics = unique(all.flatMap((r) => Object.keys(r.metrics))).sort();
  const headlineMetrics = allMetrics.filter((m) => [...stages].some((s) => m === `${s}.${opts.headline}`));
  const paramTitles = shortNames(allParams, stages);
  const metricTitles = shortNames(allMetrics, stages);
  const paramCol = (key: string): ShowColumn => ({ kind: 'param', key, title: paramTitles.get(key) ?? key });
  const metricCol = (key: string, headlineOnly: boolean): ShowColumn => ({
    kind: 'metric',
    key,
    title: headlineOnly ? key.slice(0, key.length - opts.headline.length - 1) : (metricTitles.get(key) ?? key),
    better: lowerIsBetter(key) ? 'lower' : 'higher',
  });

  let params: ShowColumn[];
  let metrics: ShowColumn[];
  let headlineOnly = false;
  if (opts.columns.length > 0) {
    const pool = [...allParams.map(paramCol), ...allMetrics.map((m) => metricCol(m, false))];
    const chosen = unique(opts.columns.flatMap((c) => pick(pool, c)));
    params = chosen.filter((c) => c.kind === 'param');
    metrics = chosen.filter((c) => c.kind === 'metric');
  } else {
    params = (opts.all ? allParams : differingKeys(all.map((r) => r.params))).map(paramCol);
    headlineOnly = !opts.all && headlineMetrics.length > 0;
    const keys = opts.all ? allMetrics : headlineOnly ? headlineMetrics : allMetrics.slice(0, FALLBACK_METRICS);
    const also = (opts.also ?? []).filter((m) => allMetrics.includes(m) && !keys.includes(m));
    if (also.length > 0) headlineOnly = false;
    metrics = [...keys, ...also].map((m) => metricCol(m, headlineOnly));
  }

  const best = new Map<string, number>();
  for (const m of metrics) {
    const values = all.map((r) => r.metrics[m.key]).filter((v): v is number => v !== undefined);
    if (values.length > 1) best.set(m.key, m.better === 'lower' ? Math.min(...values) : Math.max(...values));
  }

  const rows = [...baselines, ...sortRows(experiments, opts.sortBy, [...params, ...metrics])];
  return {
    rows,
    params,
    metrics,
    baselines: new Map(baselines.map((b) => [b.pipeline, b])),
    best,
    headlineOnly,
    headline: opts.headline,
    hiddenParams: allParams.length - params.length,
    hiddenMetrics: allMetrics.length - metrics.length,
  };
}

/** Experiment rows sorted by a column: metrics best first, params ascending, missing last. */
function sortRows(rows: ExpRun[], by: string | undefined, cols: ShowColumn[]): ExpRun[] {
  if (by === undefined) return rows;
  if (by === 'name') return [...rows].sort((a, b) => a.name.localeCompare(b.name));
  if (by === 'run' || by === 'when') return rows;
  const col = cols.find((c) => c.title === by || c.key === by) ?? cols.find((c) => c.key.includes(by));
  if (!col) throw new SortColumnError(by, cols);
  const value = (r: ExpRun): unknown => (col.kind === 'metric' ? r.metrics[col.key] : r.params[col.key]);
  const sign = col.kind === 'metric' && col.better === 'higher' ? -1 : 1;
  return [...rows].sort((a, b) => {
    const x = value(a);
    const y = value(b);
    if (x === undefined || y === undefined) return x === undefined ? (y === undefined ? 0 : 1) : -1;
    if (typeof x === 'number' && typeof y === 'number') return sign * (x - y);
    return sign * canonicalJson(x).localeCompare(canonicalJson(y));
  });
}

/** `--sort-by` named no shown column. */
export class SortColumnError extends Error {
  constructor(by: string, cols: ShowColumn[]) {
    super(
      `--sort-by "${by}": no such column; shown: name, ${cols.map((c) => c.title).join(', ') || '(no param or metric columns)'}`,
    );
  }
}

/** The baseline an experiment row is compared with (none for a baseline row itself). */
export function baselineOf(model: ShowModel, row: ExpRun): ExpRun | undefined {
  return row.baseline ? undefined : model.baselines.get(row.pipeline);
}

/** Whether a row's param differs from its baseline's (true when there is no baseline). */
export function paramChanged(model: ShowModel, row: ExpRun, key: string): boolean {
  const base = baselineOf(model, row);
  if (!base) return !row.baseline;
  return canonicalJson(base.params[key] ?? null) !== canonicalJson(row.params[key] ?? null);
}

/** A row's metric minus its baseline's, when both exist. */
export function metricDelta(model: ShowModel, row: ExpRun, key: string): number | undefined {
  const base = baselineOf(model, row);
  const a = base?.metrics[key];
  const b = row.metrics[key];
  return a === undefined || b === undefined ? undefined : b - a;
}

/** Whether a row holds the best value of a metric column. */
export function isBest(model: ShowModel, row: ExpRun, key: string): boolean {
  const best = model.best.get(key);
  return best !== undefined && row.metrics[key] === best;
}
