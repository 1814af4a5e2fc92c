/**
 * `tailor exp show` as text, Markdown, CSV and JSON, from the one show model (show-model.ts).
 * Text and Markdown show experiments as differences from their baseline: a param equal to the
 * baseline's is `·`, a metric carries its delta, the best value of each metric column is starred.
 * CSV and JSON carry the full values (machines compute their own differences) plus the deltas.
 */
import { toCsv } from '../formats/csv.js';
import { paramText } from './flat.js';
import { formatCell } from '../util/format.js';
import { formatWhen, ranSeconds, type ExpRun } from './history.js';
import { fitTable, type Column } from './text-table.js';
import { isBest, metricDelta, paramChanged, type ShowModel } from './show-model.js';

const SAME = '·';

/** A signed number for deltas: `+0.0300`, `-1.2000`. */
export function signed(x: number): string {
  return `${x > 0 ? '+' : x < 0 ? '' : '±'}${formatCell(x)}`;
}

/** The table cells of the model, shared by the text and Markdown views. */
function cells(model: ShowModel): { columns: Column[]; rows: string[][]; priority: number[] } {
  const pipelines = new Set(model.rows.map((r) => r.pipeline));
  const anyNotOk = model.rows.some((r) => r.status !== 'ok');
  // priority: the higher, the later a column is dropped to fit the width.
  const columns: Array<Column & { priority: number }> = [
    { title: 'name', priority: 100, max: 40 },
    ...(pipelines.size > 1 ? [{ title: 'pipeline', priority: 40 }] : []),
    ...(anyNotOk ? [{ title: 'status', priority: 90 }] : []),
    ...model.params.map((p, i) => ({ title: p.title, max: 24, priority: 80 - i / 100 })),
    ...model.metrics.map((m, i) => ({ title: m.title, right: true, priority: i === 0 ? 95 : 70 - i / 100 })),
    { title: 'seconds', right: true, priority: 30 },
    { title: 'run', right: true, priority: 20 },
    { title: 'when', priority: 10 },
    { title: 'ran', max: 60, priority: 5 },
  ];
  const rows = model.rows.map((r) => {
    const row = [r.baseline ? `${r.name} (tailor run)` : r.name];
    if (pipelines.size > 1) row.push(r.pipeline);
    if (anyNotOk) row.push(r.status);
    for (const p of model.params) {
      if (!(p.key in r.params)) row.push('-');
      else row.push(r.baseline || paramChanged(model, r, p.key) ? paramText(r.params[p.key]) : SAME);
    }
    for (const m of model.metrics) {
      const v = r.metrics[m.key];
      const d = metricDelta(model, r, m.key);
      const text = v === undefined ? '-' : d === undefined ? formatCell(v) : `${formatCell(v)} ${signed(d)}`;
      row.push(isBest(model, r, m.key) ? `*${text}` : text);
    }
    row.push(ranSeconds(r).toFixed(1), `#${r.id}`, formatWhen(r.startedAt), ranText(r));
    return row;
  });
  return { columns, rows, priority: columns.map((c) => c.priority) };
}

/** `train 1.2, eval 0.3` for the stages that ran, by name (parallel stages finish in any order). */
function ranText(r: ExpRun): string {
  const ran = Object.entries(r.stages)
    .filter(([, s]) => s.action === 'ran')
    .sort(([a], [b]) => a.localeCompare(b));
  return ran.length === 0 ? '(all cached)' : ran.map(([n, s]) => `${n} ${s.seconds.toFixed(1)}`).join(', ');
}

/** The lines around the table: what a row is compared with, what the metric columns hold. */
function notes(model: ShowModel, all: boolean): { head: string[]; foot: string[] } {
  const head: string[] = [];
  const bases = [...model.baselines.values()];
  if (bases.length > 0)
    head.push(
      `baseline: the last plain \`tailor run\` (${bases.map((b) => `#${b.id} ${formatWhen(b.startedAt)}`).join(', ')}); experiments show what differs from it (${SAME} = same param)`,
    );
  else head.push('no baseline: run the pipeline once with `tailor run` to compare experiments with it');
  if (model.headlineOnly) head.push(`metric columns: ${model.headline} of each stage; * = best in its column`);
  else if (model.metrics.length > 0) head.push('* = best in its column');
  const foot: string[] = [];
  const hidden: string[] = [];
  if (!all && model.hiddenParams > 0) hidden.push(`${model.hiddenParams} param(s) equal in every row hidden`);
  if (!all && model.hiddenMetrics > 0) hidden.push(`${model.hiddenMetrics} metric(s) not shown`);
  if (hidden.length > 0) foot.push(`(${hidden.join('; ')}: --all shows everything, --columns picks)`);
  return { head, foot };
}

/** The terminal table, fitted to `width` columns of text (Infinity: no limit). */
export function formatShowTable(model: ShowModel, opts: { all: boolean; width: number }): string {
  if (model.rows.length === 0)
    return 'no experiment runs yet: start one with `tailor exp run [PIPELINE] --name NAME [--set STAGE.KEY=VALUE]...`\n';
  const { columns, rows, priority } = cells(model);
  const fitted = fitTable(columns, rows, priority, opts.width);
  const { head, foot } = notes(model, opts.all);
  if (fitted.dropped.length > 0)
    foot.push(
      `(left out to fit ${opts.width} columns: ${fitted.dropped.join(', ')}; --columns picks, --md or --csv show all)`,
    );
  const fit = (l: string) => (l.length > opts.width ? `${l.slice(0, Math.max(1, opts.width - 1))}…` : l);
  return [...head.map(fit), '', fitted.text.trimEnd(), ...foot.map(fit)].join('\n') + '\n';
}

/** A Markdown table (for notes and pull requests): the same cells as the text table, all of them. */
export function showMarkdown(model: ShowModel): string {
  const { columns, rows } = cells(model);
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const line = (r: string[]) => `| ${r.map(esc).join(' | ')} |`;
  return (
    [
      line(columns.map((c) => c.title)),
      `|${columns.map((c) => (c.right ? ' ---: ' : ' --- ')).join('|')}|`,
      ...rows.map(line),
    ].join('\n') + '\n'
  );
}

/** JSON: baselines and experiments with full params and metrics, their changes and deltas. */
export function showJson(model: ShowModel): unknown {
  const row = (r: ExpRun) => ({
    run: r.id,
    name: r.name,
    baseline: r.baseline ?? false,
    pipeline: r.pipeline,
    startedAt: new Date(r.startedAt).toISOString(),
    status: r.status,
    params: Object.fromEntries(model.params.map((p) => [p.key, r.params[p.key] ?? null])),
    changed: r.baseline ? [] : model.params.filter((p) => paramChanged(model, r, p.key)).map((p) => p.key),
    metrics: r.metrics,
    deltas: Object.fromEntries(
      model.metrics.flatMap((m) => {
        const d = metricDelta(model, r, m.key);
        return d === undefined ? [] : [[m.key, round(d, 12)]];
      }),
    ),
    best: model.metrics.filter((m) => isBest(model, r, m.key)).map((m) => m.key),
    sets: r.sets,
    seconds: round(ranSeconds(r), 3),
    stages: Object.fromEntries(
      Object.entries(r.stages).map(([n, s]) => [n, { action: s.action, seconds: round(s.seconds, 3), key: s.key }]),
    ),
  });
  return {
    columns: {
      params: model.params.map((p) => p.key),
      metrics: model.metrics.map((m) => m.key),
      titles: Object.fromEntries([...model.params, ...model.metrics].map((c) => [c.key, c.title])),
    },
    baselines: model.rows.filter((r) => r.baseline).map(row),
    experiments: model.rows.filter((r) => !r.baseline).map(row),
  };
}

/** CSV: one line per row (baselines first); full param values, metrics, then `seconds.STAGE`. */
export function showCsv(model: ShowModel): string {
  const stages = [...new Set(model.rows.flatMap((r) => Object.keys(r.stages)))].sort();
  const header = [
    'run',
    'name',
    'baseline',
    'pipeline',
    'started_at',
    'status',
    ...model.params.map((p) => p.key),
    ...model.metrics.map((m) => m.key),
    'seconds',
    ...stages.map((s) => `seconds.${s}`),
  ];
  const rows = model.rows.map((r) => [
    r.id,
    r.name,
    r.baseline ? 'yes' : 'no',
    r.pipeline,
    new Date(r.startedAt).toISOString(),
    r.status,
    ...model.params.map((p) => (p.key in r.params ? paramText(r.params[p.key]) : undefined)),
    ...model.metrics.map((m) => r.metrics[m.key]),
    round(ranSeconds(r), 3),
    ...stages.map((s) => (r.stages[s] ? round(r.stages[s].seconds, 3) : undefined)),
  ]);
  return toCsv(header, rows);
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
