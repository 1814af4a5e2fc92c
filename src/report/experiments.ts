/**
 * The experiments section: the `tailor exp show` table (same runs, same columns: the params that
 * differ between runs, the headline metrics, stage seconds), and a chart of the chosen metric
 * across the runs. Runs and columns come from src/exp, so the page and the CLI agree.
 */
import { chooseColumns } from '../exp/show.js';
import { paramText } from '../exp/flat.js';
import { experimentRuns, formatWhen, ranSeconds, type ExpRun } from '../exp/history.js';
import { hbarChart } from '../charts/hbar-chart.js';
import { figure, missing, section, table, type Cell } from './html.js';
import type { RenderContext } from './report-data.js';
import { PALETTE } from '../charts/svg.js';

/** Most experiment runs shown (the newest). */
const MAX_RUNS = 60;

function metricChart(runs: ExpRun[], metricName: string): string {
  const scored = runs.filter((r) => r.metrics[metricName] !== undefined);
  if (scored.length === 0) return missing(`No experiment run recorded ${metricName}.`);
  const best = Math.max(...scored.map((r) => r.metrics[metricName] as number));
  const svg = hbarChart({
    label: `${metricName} across experiment runs`,
    xLabel: metricName,
    rows: scored.map((r) => {
      const v = r.metrics[metricName] as number;
      return { label: `${r.name} #${r.id}`, value: v, color: v === best ? PALETTE[2] : PALETTE[0] };
    }),
    legend: [
      { name: metricName, color: PALETTE[0] },
      { name: 'best', color: PALETTE[2] },
    ],
    zoom: true,
  });
  return figure(
    'experiments',
    `${metricName} across experiment runs`,
    svg,
    'Runs in the order they started; the axis starts near the lowest score to show the differences.',
  );
}

/** Render the section. */
export function experimentsSection(ctx: RenderContext): string {
  const lead =
    'Runs recorded with an experiment name (tailor exp run), oldest first: the same table as tailor exp show.';
  const runs = experimentRuns(ctx.data.index, { last: MAX_RUNS });
  if (runs.length === 0)
    return section(
      'experiments',
      'Experiments',
      missing('No experiment runs in this cache yet (tailor exp run --name NAME --set STAGE.KEY=VALUE records one).'),
      lead,
    );

  const metric = ctx.data.metric;
  const metricName = metric ? `${metric.stage}.${metric.path}` : undefined;
  const cols = chooseColumns(runs, { all: false, metrics: [] });
  if (metricName && !cols.metrics.includes(metricName)) cols.metrics.push(metricName);
  const pipelines = new Set(runs.map((r) => r.pipeline));
  const headers = [
    'run',
    'experiment',
    ...(pipelines.size > 1 ? ['pipeline'] : []),
    'when',
    'status',
    ...cols.params,
    ...cols.metrics,
    'stage s',
  ];
  const rows: Cell[][] = runs.map((r) => [
    `#${r.id}`,
    r.name,
    ...(pipelines.size > 1 ? [r.pipeline] : []),
    formatWhen(r.startedAt),
    r.status,
    ...cols.params.map((p): Cell => (p in r.params ? paramText(r.params[p]) : null)),
    ...cols.metrics.map((m): Cell => r.metrics[m] ?? null),
    ranSeconds(r),
  ]);
  const parts = [table(headers, rows, 'experiments')];
  if (cols.params.length === 0) parts.push('<p class="note">All runs share the same params.</p>');
  parts.push(
    metricName
      ? metricChart(runs, metricName)
      : missing(
          'No metric to compare: no stage reports holdout.micro_f1 or validation.micro_f1; choose one with --metric STAGE.PATH.',
        ),
  );
  return section('experiments', 'Experiments', parts.join(''), lead);
}
