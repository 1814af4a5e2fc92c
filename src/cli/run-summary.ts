/** What a person wants after a run: each stage's action and seconds, the headline metric, and where the results are. */
import { resolve } from 'node:path';
import { headlineOf, metricAt } from '../pipeline/headline.js';
import type { Pipeline } from '../pipeline/types.js';
import type { StageOutcome } from '../run/events.js';
import { formatDuration } from './progress.js';

export function printRunSummary(pipeline: Pipeline, outcomes: StageOutcome[]): void {
  if (outcomes.length === 0) return;
  const headline = headlineOf(pipeline);
  // The column only when some stage has the metric: a pipeline of other stages gets no empty one.
  const column = outcomes.some((o) => metricAt(o.metrics, headline.metric) !== undefined) ? headline.label : '';
  const w = Math.max(5, ...outcomes.map((o) => o.name.length));
  const lines = ['', `${'stage'.padEnd(w)}  action   seconds  ${column}`.trimEnd()];
  for (const o of outcomes) {
    const value = metricAt(o.metrics, headline.metric);
    lines.push(
      `${o.name.padEnd(w)}  ${o.action.padEnd(7)}  ${o.seconds.toFixed(1).padStart(7)}  ${value === undefined ? '' : value.toFixed(4)}`.trimEnd(),
    );
  }
  const base = headline.baseline;
  const baseline = base && outcomes.map((o) => metricAt(o.metrics, base.metric)).find((v) => v !== undefined);
  if (base && baseline !== undefined) lines.push(`(${base.label}: ${baseline.toFixed(4)})`);
  const exported = pipeline.stages
    .filter((s) => outcomes.some((o) => o.name === s.name && (o.action === 'ran' || o.action === 'cached')))
    .flatMap((s) => Object.values(s.export).map((to) => resolve(pipeline.workdir, to)));
  for (const file of exported) lines.push(`wrote ${file}`);
  const total = outcomes.reduce((t, o) => t + (o.action === 'ran' ? o.seconds : 0), 0);
  lines.push(`stage time: ${formatDuration(total)}`);
  process.stdout.write(lines.join('\n') + '\n');
}
