/**
 * What every model stage writes besides its model: probabilities for validation, holdout and test
 * (the predictions contract of src/formats/predictions.ts), `metrics.json` scores at threshold 0.5,
 * per-epoch records (`epochs.jsonl`) and a learning-curve picture (`learning-curve.svg`).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writePredictions, type Predictions } from '../formats/predictions.js';
import { binarize, summarize, type MetricSummary } from './metrics.js';
import { truthMatrix } from './label-matrix.js';
import { lineChart } from './svg-charts.js';
import type { EpochRecord } from './trainer.js';

export type ScoredSplit = 'validation' | 'holdout' | 'test';

export interface SplitOutput {
  ids: string[];
  /** Label ids per row (empty for test). */
  labels: string[][];
  probs: Float32Array;
  /** Images of the split without features (failed fetch or decode). */
  missing: number;
}

/** Scores at 0.5 of a labelled split. */
export function score(out: SplitOutput, labels: string[]): MetricSummary {
  const truth = truthMatrix(out.labels.map((l) => ({ labels: l })), labels);
  return summarize(truth, binarize(out.probs, out.ids.length, labels.length, 0.5), out.ids.length, labels.length);
}

/** Write predictions, epochs.jsonl and learning-curve.svg; returns the metrics to merge. */
export async function writeModelOutputs(
  dir: string,
  labels: string[],
  splits: Partial<Record<ScoredSplit, SplitOutput>>,
  history: EpochRecord[],
  title: string,
): Promise<Record<string, unknown>> {
  const preds: Predictions = { labels, splits: {} };
  const metrics: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(splits) as Array<[ScoredSplit, SplitOutput]>) {
    preds.splits[name] = { ids: s.ids, probs: s.probs };
    metrics[name] = name === 'test' ? { images: s.ids.length, missing: s.missing } : { ...score(s, labels), threshold: 0.5, missing: s.missing };
  }
  await writePredictions(dir, preds);
  await writeFile(join(dir, 'epochs.jsonl'), history.map((h) => JSON.stringify(h)).join('\n') + (history.length ? '\n' : ''));
  await writeFile(join(dir, 'learning-curve.svg'), learningCurve(history, title));
  return metrics;
}

/** Train loss, validation loss and validation micro-F1 per epoch (phases one after another). */
export function learningCurve(history: EpochRecord[], title: string): string {
  const x = (i: number): number => i + 1;
  return lineChart({
    title,
    xLabel: history.some((h) => h.phase !== history[0]?.phase) ? `epoch (phases: ${[...new Set(history.map((h) => h.phase))].join(' → ')})` : 'epoch',
    yLabel: 'loss / micro-F1',
    series: [
      { name: 'train loss', points: history.map((h, i) => [x(i), h.loss]) },
      { name: 'validation loss', points: history.map((h, i) => [x(i), h.val_loss]) },
      { name: 'validation micro-F1 @0.5', points: history.map((h, i) => [x(i), h.val_micro_f1]) },
    ],
  });
}
