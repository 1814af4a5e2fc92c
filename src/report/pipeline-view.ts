/** The pipeline section: the graph with states, the stage table, and the timeline of the last run. */
import { dagSvg, stageTable } from './dag.js';
import { block, figure, missing, section } from './html.js';
import type { RenderContext } from './report-data.js';
import { formatDuration } from '../util/format.js';
import { timelineFacts, timelineSvg } from './timeline.js';

function timeline(ctx: RenderContext): string {
  const { lastRun, runStages } = ctx.data;
  if (!lastRun) return missing('No run of this pipeline is recorded in this cache yet.');
  const svg = timelineSvg(runStages, lastRun.startedAt);
  if (!svg) return missing(`Run #${lastRun.id} has no stage with a start and end time (${lastRun.status}).`);
  const f = timelineFacts(runStages);
  const ran = runStages.filter((r) => r.action === 'ran').length;
  const cached = runStages.filter((r) => r.action === 'cached').length;
  const note =
    `Run #${lastRun.id} (${lastRun.status}): ${ran} stage${ran === 1 ? '' : 's'} ran, ${cached} reused from the cache; ` +
    `${formatDuration(f.wall)} wall clock for ${formatDuration(f.stageSeconds)} of stage time, up to ${f.peak} stage${f.peak === 1 ? '' : 's'} at once.`;
  return figure('timeline', `Timeline of run #${lastRun.id}`, svg, note);
}

/** Render the section. */
export function pipelineSection(ctx: RenderContext): string {
  const { data } = ctx;
  const planNote = data.planError
    ? missing(`Could not tell which stages are stale (${data.planError}); states come from the last run.`)
    : '';
  const graph = figure(
    'dag',
    'Stages and their state',
    dagSvg(data),
    'Arrows point from a stage to the stages that need its output.',
  );
  const body = [
    planNote,
    `<div class="grid2">${graph}<div>${stageTable(data)}</div></div>`,
    block('Where the time went', timeline(ctx)),
  ].join('');
  const lead = `${data.stages.length} stage${data.stages.length === 1 ? '' : 's'} from ${data.pipeline.file}; a stage is stale when a run now would run it again.`;
  return section('pipeline', 'Pipeline', body, lead);
}
