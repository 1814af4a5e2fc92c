/** What a person wants after a run: each stage's action and seconds, the scores, and where the results are. */
import { resolve } from 'node:path';
import type { Pipeline } from '../pipeline/types.js';
import type { StageOutcome } from '../run/events.js';
import { formatDuration } from './progress.js';

export function printRunSummary(pipeline: Pipeline, outcomes: StageOutcome[]): void {
  if (outcomes.length === 0) return;
  const w = Math.max(5, ...outcomes.map((o) => o.name.length));
  const lines = ['', `${'stage'.padEnd(w)}  action   seconds  holdout micro-F1`];
  for (const o of outcomes) {
    const f1 = holdoutF1(o.metrics);
    lines.push(
      `${o.name.padEnd(w)}  ${o.action.padEnd(7)}  ${o.seconds.toFixed(1).padStart(7)}  ${f1 === undefined ? '' : f1.toFixed(4)}`,
    );
  }
  const baseline = (outcomes.find((o) => o.metrics?.baseline)?.metrics?.baseline as Record<string, unknown> | undefined)
    ?.holdout_micro_f1;
  if (typeof baseline === 'number') lines.push(`(frequency baseline on holdout: ${baseline.toFixed(4)})`);
  const exported = pipeline.stages
    .filter((s) => outcomes.some((o) => o.name === s.name && (o.action === 'ran' || o.action === 'cached')))
    .flatMap((s) => Object.values(s.export).map((to) => resolve(pipeline.workdir, to)));
  for (const file of exported) lines.push(`wrote ${file}`);
  const total = outcomes.reduce((t, o) => t + (o.action === 'ran' ? o.seconds : 0), 0);
  lines.push(`stage time: ${formatDuration(total)}`);
  process.stdout.write(lines.join('\n') + '\n');
}

function holdoutF1(metrics: Record<string, unknown> | undefined): number | undefined {
  const f1 = (metrics?.holdout as Record<string, unknown> | undefined)?.micro_f1;
  return typeof f1 === 'number' ? f1 : undefined;
}
