/**
 * What every model stage writes besides its model: probabilities for validation, holdout and test
 * (the predictions contract of src/formats/predictions.ts), `metrics.json` scores at threshold 0.5,
 * per-epoch records (`epochs.jsonl`, no timings: those are averaged into metrics.json) and a
 * learning-curve picture (`learning-curve.svg`).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writePredictions, type Predictions } from '../formats/predictions.js';
import { binarize, summarize, type MetricSummary } from './metrics.js';
import { missedLabels, truthMatrix } from './label-matrix.js';
import { lineChart } from '../charts/line-chart.js';
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

/**
 * Scores at 0.5 of a labelled split. True labels that split dropped (too rare) count as misses,
 * as in ensemble-pso and threshold, so every stage's micro-F1 is on the same scale.
 */
export function score(out: SplitOutput, labels: string[]): MetricSummary {
  const rows = out.labels.map((l) => ({ labels: l }));
  const truth = truthMatrix(rows, labels);
  return summarize(
    truth,
    binarize(out.probs, out.ids.length, labels.length, 0.5),
    out.ids.length,
    labels.length,
    missedLabels(rows, labels),
  );
}

/** Write predictions, epochs.jsonl and learning-curve.svg; returns the metrics to merge. */
export async function writeModelOutputs(
  dir: string,
  labels: string[],
  /** `oof`: out-of-fold predictions over train (train-head `oof: true`), scored like validation. */
  splits: Partial<Record<ScoredSplit | 'oof', SplitOutput>>,
  history: EpochRecord[],
  title: string,
): Promise<Record<string, unknown>> {
  const preds: Predictions = { labels, splits: {} };
  const metrics: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(splits) as Array<[ScoredSplit | 'oof', SplitOutput]>) {
    preds.splits[name] = { ids: s.ids, probs: s.probs };
    metrics[name] =
      name === 'test'
        ? { images: s.ids.length, missing: s.missing }
        : { ...score(s, labels), threshold: 0.5, missing: s.missing };
  }
  await writePredictions(dir, preds);
  // Timings go to metrics.json (the engine's channel for what measures the machine), so that
  // epochs.jsonl, like every other data file, has the same bytes on every run with the same seed.
  const record = ({ seconds: _s, samples_per_s: _r, ...learning }: EpochRecord) => learning;
  await writeFile(
    join(dir, 'epochs.jsonl'),
    history.map((h) => JSON.stringify(record(h))).join('\n') + (history.length ? '\n' : ''),
  );
  const timed = history.filter((h) => h.seconds > 0);
  if (timed.length > 0) {
    metrics.epoch_seconds = Number((timed.reduce((t, h) => t + h.seconds, 0) / timed.length).toFixed(3));
    metrics.train_samples_per_s = Number((timed.reduce((t, h) => t + h.samples_per_s, 0) / timed.length).toFixed(1));
  }
  await writeFile(join(dir, 'learning-curve.svg'), learningCurve(history, title));
  return metrics;
}

/** Train loss, validation loss and validation micro-F1 per epoch (phases one after another). */
export function learningCurve(history: EpochRecord[], title: string): string {
  const x = (i: number): number => i + 1;
  return lineChart({
    label: title,
    standalone: { title },
    integerX: true,
    width: 640,
    height: 360,
    xLabel: history.some((h) => h.phase !== history[0]?.phase)
      ? `epoch (phases: ${[...new Set(history.map((h) => h.phase))].join(' → ')})`
      : 'epoch',
    yLabel: 'loss / micro-F1',
    series: [
      { name: 'train loss', points: history.map((h, i) => [x(i), h.loss]) },
      { name: 'validation loss', points: history.map((h, i) => [x(i), h.val_loss]) },
      { name: 'validation micro-F1 @0.5', points: history.map((h, i) => [x(i), h.val_micro_f1]) },
    ],
  });
}
