/**
 * `tailor exp show`: one row per experiment run — name, when, the params that differ between
 * rows (all of them with `all`), metrics, stage seconds — as a text table, JSON or CSV.
 */
import { toCsv } from '../formats/csv.js';
import { differingKeys, isHeadlineMetric, paramText } from './flat.js';
import { formatCell } from '../util/format.js';
import { formatWhen, ranSeconds, type ExpRun } from './history.js';
import { renderTable, type Column } from './text-table.js';

export interface ShowOptions {
  /** Every param and every metric, not only differing params and headline metrics. */
  all: boolean;
  /** Metric columns whose name contains one of these (overrides the default choice). */
  metrics: string[];
}

/** The columns a report shows. */
export interface ShowColumns {
  params: string[];
  metrics: string[];
  /** Stages with a seconds column (CSV, JSON): every stage any row recorded. */
  stages: string[];
}

/** How many metric columns the text table shows when no headline metric exists. */
const FALLBACK_METRICS = 6;

export function chooseColumns(runs: ExpRun[], opts: ShowOptions): ShowColumns {
  const allParams = [...new Set(runs.flatMap((r) => Object.keys(r.params)))].sort();
  const params = opts.all ? allParams : differingKeys(runs.map((r) => r.params));
  const allMetrics = [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))].sort();
  let metrics: string[];
  if (opts.metrics.length > 0) metrics = allMetrics.filter((m) => opts.metrics.some((p) => m.includes(p)));
  else if (opts.all) metrics = allMetrics;
  else {
    const headline = allMetrics.filter(isHeadlineMetric);
    metrics = headline.length > 0 ? headline : allMetrics.slice(0, FALLBACK_METRICS);
  }
  // By name: stages that ran in parallel are recorded in whichever order they finished.
  const stages = [...new Set(runs.flatMap((r) => Object.keys(r.stages)))].sort();
  return { params, metrics, stages };
}

/** The text table, with a line saying what was hidden. */
export function formatShowTable(runs: ExpRun[], cols: ShowColumns, opts: ShowOptions): string {
  if (runs.length === 0)
    return 'no experiment runs yet: start one with `tailor exp run [PIPELINE] --name NAME [--set STAGE.KEY=VALUE]...`\n';
  const pipelines = new Set(runs.map((r) => r.pipeline));
  const anyNotOk = runs.some((r) => r.status !== 'ok');
  const columns: Column[] = [{ title: 'run', right: true }, { title: 'name' }, { title: 'when' }];
  if (pipelines.size > 1) columns.push({ title: 'pipeline' });
  if (anyNotOk) columns.push({ title: 'status' });
  columns.push(...cols.params.map((p) => ({ title: p, max: 24 })));
  columns.push(...cols.metrics.map((m) => ({ title: m, right: true })));
  columns.push({ title: 'seconds', right: true }, { title: 'ran', max: 60 });
  const rows = runs.map((r) => {
    const row = [`#${r.id}`, r.name, formatWhen(r.startedAt)];
    if (pipelines.size > 1) row.push(r.pipeline);
    if (anyNotOk) row.push(r.status);
    row.push(...cols.params.map((p) => (p in r.params ? paramText(r.params[p]) : '-')));
    row.push(...cols.metrics.map((m) => formatCell(r.metrics[m])));
    // By name: stages that ran in parallel finish in any order, and the table should not.
    const ran = Object.entries(r.stages)
      .filter(([, s]) => s.action === 'ran')
      .sort(([a], [b]) => a.localeCompare(b));
    row.push(
      ranSeconds(r).toFixed(1),
      ran.length === 0 ? '(all cached)' : ran.map(([n, s]) => `${n} ${s.seconds.toFixed(1)}`).join(', '),
    );
    return row;
  });
  const notes: string[] = [];
  const totalParams = new Set(runs.flatMap((r) => Object.keys(r.params))).size;
  if (!opts.all && totalParams > cols.params.length)
    notes.push(`${totalParams - cols.params.length} param(s) equal in every run hidden`);
  const totalMetrics = new Set(runs.flatMap((r) => Object.keys(r.metrics))).size;
  if (!opts.all && totalMetrics > cols.metrics.length)
    notes.push(`${totalMetrics - cols.metrics.length} metric(s) not shown`);
  const footer = notes.length > 0 ? `(${notes.join('; ')}: --all shows everything)\n` : '';
  return renderTable(columns, rows) + footer;
}

/** JSON: the chosen params per run, every metric, per-stage action/seconds/key. */
export function showJson(runs: ExpRun[], cols: ShowColumns): unknown {
  return {
    columns: { params: cols.params, metrics: cols.metrics },
    experiments: runs.map((r) => ({
      run: r.id,
      name: r.name,
      pipeline: r.pipeline,
      startedAt: new Date(r.startedAt).toISOString(),
      status: r.status,
      params: Object.fromEntries(cols.params.map((p) => [p, r.params[p] ?? null])),
      metrics: r.metrics,
      seconds: round3(ranSeconds(r)),
      stages: Object.fromEntries(
        Object.entries(r.stages).map(([n, s]) => [n, { action: s.action, seconds: round3(s.seconds), key: s.key }]),
      ),
    })),
  };
}

/** CSV: one line per run; params, the chosen metrics, then `seconds.STAGE` for every stage. */
export function showCsv(runs: ExpRun[], cols: ShowColumns): string {
  const header = [
    'run',
    'name',
    'pipeline',
    'started_at',
    'status',
    ...cols.params,
    ...cols.metrics,
    'seconds',
    ...cols.stages.map((s) => `seconds.${s}`),
  ];
  const rows = runs.map((r) => [
    r.id,
    r.name,
    r.pipeline,
    new Date(r.startedAt).toISOString(),
    r.status,
    ...cols.params.map((p) => (p in r.params ? paramText(r.params[p]) : undefined)),
    ...cols.metrics.map((m) => r.metrics[m]),
    round3(ranSeconds(r)),
    ...cols.stages.map((s) => (r.stages[s] ? round3(r.stages[s].seconds) : undefined)),
  ]);
  return toCsv(header, rows);
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
