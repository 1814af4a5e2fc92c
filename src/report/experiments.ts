/**
 * The experiments section of the report and the page `tailor exp show --html FILE` writes: the
 * `exp show` table (same show model: baseline row, params as changes, metric deltas, best per
 * column), a chart of the headline metric across the runs and, for sweeps, one scatter per
 * swept numeric param against that metric.
 */
import { paramText } from '../exp/flat.js';
import { formatWhen, ranSeconds, showRows, type ExpRun } from '../exp/history.js';
import { buildShowModel, isBest, metricDelta, paramChanged, type ShowModel } from '../exp/show-model.js';
import { signed } from '../exp/show.js';
import { headlineOf } from '../pipeline/headline.js';
import { hbarChart } from '../charts/hbar-chart.js';
import { scatterChart } from '../charts/scatter-chart.js';
import { PALETTE } from '../charts/svg.js';
import { formatCell } from '../util/format.js';
import { esc, figure, missing, page, section, table, type Cell } from './html.js';
import type { RenderContext } from './report-data.js';

/** Most experiment runs shown (the newest). */
const MAX_RUNS = 60;

const rowLabel = (r: ExpRun) => (r.baseline ? `baseline #${r.id}` : `${r.name} #${r.id}`);

function metricChart(model: ShowModel, metric: string): string {
  const scored = model.rows.filter((r) => r.metrics[metric] !== undefined);
  if (scored.length === 0) return missing(`No run recorded ${metric}.`);
  const best = model.best.get(metric);
  const svg = hbarChart({
    label: `${metric} across experiment runs`,
    xLabel: metric,
    rows: scored.map((r) => {
      const v = r.metrics[metric] as number;
      const color = v === best ? PALETTE[2] : r.baseline ? PALETTE[9] : PALETTE[0];
      return { label: rowLabel(r), value: v, color };
    }),
    legend: [
      { name: 'experiment', color: PALETTE[0] },
      { name: 'baseline (last tailor run)', color: PALETTE[9] },
      { name: 'best', color: PALETTE[2] },
    ],
    zoom: true,
  });
  return figure(
    'experiments',
    `${metric} across experiment runs`,
    svg,
    'Baseline first, then experiments in the order they started; the axis starts near the lowest score to show the differences.',
  );
}

/** Swept params: numeric in every experiment that has them, with at least two values. */
function sweptParams(model: ShowModel): string[] {
  return model.params
    .map((p) => p.key)
    .filter((k) => {
      const values = model.rows.filter((r) => !r.baseline && k in r.params).map((r) => r.params[k]);
      return values.length > 1 && values.every((v) => typeof v === 'number') && new Set(values).size > 1;
    });
}

function sweepCharts(model: ShowModel, metric: string): string {
  const figures = sweptParams(model).map((param) => {
    const title = model.params.find((p) => p.key === param)?.title ?? param;
    const svg = scatterChart({
      label: `${metric} against ${param}`,
      xLabel: title,
      yLabel: metric.slice(metric.lastIndexOf('.') + 1),
      points: model.rows
        .filter((r) => typeof r.params[param] === 'number' && r.metrics[metric] !== undefined)
        .map((r) => ({
          x: r.params[param] as number,
          y: r.metrics[metric] as number,
          label: rowLabel(r),
          group: r.baseline ? 'baseline' : 'experiment',
        })),
    });
    return figure(`sweep:${param}`, `${metric} against ${param}`, svg, 'One point per run.');
  });
  return figures.length > 0 ? `<div class="grid2">${figures.join('')}</div>` : '';
}

/** The table: baseline rows marked, unchanged params as ·, deltas beside metrics, best in bold. */
function showTable(model: ShowModel): string {
  const pipelines = new Set(model.rows.map((r) => r.pipeline));
  const headers = [
    'experiment',
    ...(pipelines.size > 1 ? ['pipeline'] : []),
    'status',
    ...model.params.map((p) => p.title),
    ...model.metrics.map((m) => m.title),
    'stage s',
    'run',
    'when',
  ];
  const rows: Cell[][] = model.rows.map((r) => [
    r.baseline ? { html: `<strong>baseline</strong> <span class="note">(last tailor run)</span>` } : r.name,
    ...(pipelines.size > 1 ? [r.pipeline] : []),
    r.status,
    ...model.params.map((p): Cell => {
      if (!(p.key in r.params)) return null;
      return paramChanged(model, r, p.key) || r.baseline ? paramText(r.params[p.key]) : '·';
    }),
    ...model.metrics.map((m): Cell => {
      const v = r.metrics[m.key];
      if (v === undefined) return null;
      const d = metricDelta(model, r, m.key);
      const value = isBest(model, r, m.key) ? `<strong>${esc(formatCell(v))}</strong>` : esc(formatCell(v));
      return { html: d === undefined ? value : `${value} <span class="delta">${esc(signed(d))}</span>`, num: true };
    }),
    ranSeconds(r),
    `#${r.id}`,
    formatWhen(r.startedAt),
  ]);
  return table(headers, rows, 'experiments');
}

/** Table and charts, for the report section and the standalone page. */
export function experimentsBody(model: ShowModel, metric: string | undefined): string {
  const parts = [showTable(model)];
  const notes = [
    model.baselines.size > 0
      ? 'The baseline is the last plain tailor run; · is a param equal to it; the small number beside a metric is the change from it; bold is the best of its column.'
      : 'No baseline: run the pipeline once with tailor run to compare experiments with it. Bold is the best of its column.',
  ];
  if (model.headlineOnly) notes.push(`Metric columns: ${model.headline} of each stage.`);
  if (model.params.length === 0) notes.push('All runs share the same params.');
  parts.push(`<p class="note">${esc(notes.join(' '))}</p>`);
  const chosen = metric ?? model.metrics[0]?.key;
  if (chosen) parts.push(metricChart(model, chosen), sweepCharts(model, chosen));
  else parts.push(missing('No metric to compare: no stage of these runs reported a number.'));
  return parts.join('');
}

/** Render the report section. */
export function experimentsSection(ctx: RenderContext): string {
  const lead =
    'Runs recorded with an experiment name (tailor exp run), oldest first, against the baseline: the same table as tailor exp show.';
  const { experiments, baselines } = showRows(ctx.data.index, { last: MAX_RUNS });
  if (experiments.length === 0)
    return section(
      'experiments',
      'Experiments',
      missing('No experiment runs in this cache yet (tailor exp run --name NAME --set STAGE.KEY=VALUE records one).'),
      lead,
    );
  const metric = ctx.data.metric ? `${ctx.data.metric.stage}.${ctx.data.metric.path}` : undefined;
  const model = buildShowModel(experiments, baselines, {
    all: false,
    columns: [],
    headline: headlineOf(ctx.data.pipeline).metric,
    also: metric ? [metric] : [],
  });
  return section('experiments', 'Experiments', experimentsBody(model, metric), lead);
}

/** The page of `tailor exp show --html FILE`. */
export function experimentsPage(model: ShowModel, title: string, metric?: string): string {
  return page({
    title,
    header: `<h1>${esc(title)}</h1>`,
    sections: [
      {
        id: 'experiments',
        title: 'Experiments',
        html: section('experiments', 'Experiments', experimentsBody(model, metric)),
      },
    ],
  });
}
