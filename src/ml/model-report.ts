/**
 * What every model stage writes besides its model: probabilities for validation, holdout and test
 * (the predictions contract of src/formats/predictions.ts), `metrics.json` scores at threshold 0.5
 * (with the split's folder: over every image of the split, those without a prediction answered as
 * submit answers them, the same scale as ensemble-pso and threshold; the predicted images' score beside),
 * per-epoch records (`epochs.jsonl`, no timings: those are averaged into metrics.json) and a
 * learning-curve picture (`learning-curve.svg`).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writePredictions, type Predictions } from '../formats/predictions.js';
import { binarize, summarize, type MetricSummary } from './metrics.js';
import { missedLabels, truthMatrix } from './label-matrix.js';
import { failedNote, loadScoredSet } from './scored-set.js';
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

/** Where a model stage's scores come from besides its predictions. */
export interface ScoreSource {
  /** The split stage's folder: scores over every image (see splitScores). */
  splitDir?: string;
  log(m: string): void;
}

/**
 * A labelled split's scores at 0.5. With the split's folder they are over all of its images, as
 * the submission would be scored (failed downloads and images without features answered from
 * label priors); without one, over the predicted images alone, and they say so.
 */
export async function splitScores(
  model: { dir: string; preds: Predictions },
  name: 'validation' | 'holdout',
  s: SplitOutput,
  labels: string[],
  source: ScoreSource,
): Promise<MetricSummary & Record<string, unknown>> {
  const { splitDir } = source;
  const predicted = score(s, labels);
  if (splitDir === undefined)
    return { ...predicted, threshold: 0.5, missing: s.missing, scored: 'predicted images only (no split among needs)' };
  const set = await loadScoredSet(splitDir, name, labels, [{ name: 'this model', ...model }]);
  const note = failedNote(set);
  if (note) source.log(note);
  const L = labels.length;
  return {
    ...summarize(set.truth, binarize(set.probs[0]!, set.ids.length, L, 0.5), set.ids.length, L, set.missed),
    threshold: 0.5,
    missing: s.missing,
    scored: 'every image of the split',
    images: set.ids.length,
    answered_from_priors: set.failed,
    predicted_only: { images: s.ids.length, micro_f1: predicted.micro_f1 },
  };
}

/** Write predictions, epochs.jsonl and learning-curve.svg; returns the metrics to merge. */
export async function writeModelOutputs(
  dir: string,
  labels: string[],
  /** `oof`: out-of-fold predictions over train (train-head `oof: true`), scored like validation. */
  splits: Partial<Record<ScoredSplit | 'oof', SplitOutput>>,
  history: EpochRecord[],
  title: string,
  source: ScoreSource,
): Promise<Record<string, unknown>> {
  const preds: Predictions = { labels, splits: {} };
  const metrics: Record<string, unknown> = {};
  const named = Object.entries(splits) as Array<[ScoredSplit | 'oof', SplitOutput]>;
  for (const [name, s] of named) preds.splits[name] = { ids: s.ids, probs: s.probs };
  for (const [name, s] of named)
    metrics[name] =
      name === 'test'
        ? { images: s.ids.length, missing: s.missing }
        : name === 'oof'
          ? { ...score(s, labels), threshold: 0.5, missing: s.missing, scored: 'training images with features' }
          : await splitScores({ dir, preds }, name, s, labels, source);
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
