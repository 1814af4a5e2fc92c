/**
 * The run report: collect what the cache knows about a pipeline and render one self-contained
 * HTML page (pipeline graph and timeline, data, models, experiments, stage outputs).
 *
 *   collectReport (cache, plan) --> ReportData --> section renderers --> page shell --> HTML
 */
import type { Pipeline } from '../pipeline/types.js';
import type { Session } from '../run/session.js';
import { collectReport, type CollectOptions } from './collect.js';
import { stateCounts } from './dag.js';
import { dataSection } from './data-section.js';
import { experimentsSection } from './experiments.js';
import { esc, page } from './html.js';
import { loadLabelNames } from './label-names.js';
import { numberAtPath } from '../util/flatten.js';
import { STATE_WORDS, type RenderContext, type ReportData } from './report-data.js';
import { modelsSection } from './models-section.js';
import { pipelineSection } from './pipeline-view.js';
import { stagesSection } from './stage-outputs.js';
import { formatDuration } from '../util/format.js';

export { collectReport, parseMetricChoice } from './collect.js';
export type { ReportData } from './report-data.js';

function kpi(value: string, key: string): string {
  return `<div class="kpi"><div class="v">${esc(value)}</div><div class="k">${esc(key)}</div></div>`;
}

function header(data: ReportData): string {
  const run = data.lastRun;
  const runLine = run
    ? `last run #${run.id} ${run.status}, started ${new Date(run.startedAt).toISOString().slice(0, 19).replace('T', ' ')} UTC on ${run.host}` +
      (run.endedAt ? `, ${formatDuration((run.endedAt - run.startedAt) / 1000)}` : '')
    : 'no run recorded yet';
  const kpis = stateCounts(data.stages).map(([state, n]) => kpi(String(n), `${STATE_WORDS[state]}`));
  const best = data.stages
    .map((s) => ({ s, v: numberAtPath(s.metrics, 'holdout.micro_f1') }))
    .filter((x): x is { s: (typeof data.stages)[number]; v: number } => x.v !== undefined)
    .sort((a, b) => b.v - a.v)[0];
  if (best) kpis.push(kpi(best.v.toFixed(4), `best holdout micro-F1 · ${best.s.spec.name}`));
  return (
    `<h1>${esc(data.pipeline.displayName)}<span class="sub">tailor run report</span></h1>` +
    `<div class="meta"><code>${esc(data.pipeline.file)}</code> · ${esc(runLine)}</div>` +
    `<div class="meta">cache <code>${esc(data.cacheDir)}</code> · written ${esc(data.generatedAt.toISOString().slice(0, 19).replace('T', ' '))} UTC</div>` +
    `<div class="kpis">${kpis.join('')}</div>`
  );
}

/** Render the report of already collected data. */
export async function renderReport(data: ReportData): Promise<string> {
  const ctx: RenderContext = { data, label: await loadLabelNames(data), shown: new Set() };
  // Order matters: the stage gallery comes last so it can skip pictures shown above.
  const sections = [
    { id: 'pipeline', title: 'Pipeline', html: pipelineSection(ctx) },
    { id: 'data', title: 'Data', html: await dataSection(ctx) },
    { id: 'models', title: 'Models', html: await modelsSection(ctx) },
    { id: 'experiments', title: 'Experiments', html: experimentsSection(ctx) },
  ];
  sections.push({ id: 'stages', title: 'Stage outputs', html: await stagesSection(ctx) });
  return page({ title: `${data.pipeline.displayName} · tailor report`, header: header(data), sections });
}

/** Collect and render the report of a pipeline from an open session. */
export async function buildReport(session: Session, pipeline: Pipeline, opts: CollectOptions = {}): Promise<string> {
  return renderReport(await collectReport(session, pipeline, opts));
}
