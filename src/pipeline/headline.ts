/**
 * The metric a pipeline puts forward (YAML `headline:`): the column of the run summary and the
 * number after each model stage in the log. Without the key it is the iMaterialist pipelines'
 * holdout micro-F1, as it always was; a pipeline of another task names its own.
 *
 *   headline: { metric: holdout.micro_f1, label: "holdout micro-F1",
 *               baseline: { metric: baseline.holdout_micro_f1, label: "frequency baseline on holdout" } }
 */
import type { Headline, Pipeline } from './types.js';

export const DEFAULT_HEADLINE: Headline = {
  metric: 'holdout.micro_f1',
  label: 'holdout micro-F1',
  baseline: { metric: 'baseline.holdout_micro_f1', label: 'frequency baseline on holdout' },
};

export function headlineOf(pipeline: Pick<Pipeline, 'headline'>): Headline {
  return pipeline.headline ?? DEFAULT_HEADLINE;
}

/** The number at a dotted path of a metrics object, if there is one. */
export function metricAt(metrics: Record<string, unknown> | undefined, path: string): number | undefined {
  let value: unknown = metrics;
  for (const part of path.split('.')) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** The YAML value of `headline:` (already checked by the schema) as a Headline. */
export function headlineFrom(value: unknown): Headline | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as { metric?: unknown; label?: unknown; baseline?: { metric?: unknown; label?: unknown } };
  if (typeof v.metric !== 'string') return undefined;
  const headline: Headline = { metric: v.metric, label: typeof v.label === 'string' ? v.label : v.metric };
  if (v.baseline && typeof v.baseline.metric === 'string')
    headline.baseline = {
      metric: v.baseline.metric,
      label: typeof v.baseline.label === 'string' ? v.baseline.label : v.baseline.metric,
    };
  return headline;
}
