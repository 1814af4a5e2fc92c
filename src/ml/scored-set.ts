/**
 * Truth and probabilities for ensemble-pso, threshold and submit, aligned to one image order and
 * the split's label order. (Which upstream folders are the models and the split:
 * src/stage-kit/inputs.ts.)
 */
import { readPredictions, type Predictions } from '../formats/predictions.js';
import { readFailedEntries, readSplitEntries, type ManifestEntry } from '../formats/manifest.js';
import type { NamedDir } from '../stage-kit/inputs.js';
import { alignCovered, missedLabels, truthMatrix } from './label-matrix.js';
import { confusion, type Counts } from './metrics.js';
import { priorGuess, type PriorGuess } from './submission-inputs.js';

export interface LoadedModel extends NamedDir {
  preds: Predictions;
}

export async function loadModels(dirs: NamedDir[]): Promise<LoadedModel[]> {
  return Promise.all(dirs.map(async (d) => ({ ...d, preds: await readPredictions(d.dir) })));
}

/**
 * Truth and every model's probabilities for one labelled split: the images every model scored,
 * then the images a submission could not predict (failed downloads, and images missing from some
 * model's predictions), answered as submit answers them — the label-prior guess, as probability 1
 * for its labels and 0 for the rest in every model — so scores are what the submission would get.
 */
export interface ScoredSet {
  /** `oof`: the training images, with the models' out-of-fold predictions (train-head `oof: true`). */
  split: FitSplit | 'holdout';
  ids: string[];
  truth: Uint8Array;
  /** Per image, true labels outside the split's label list (always missed; see metrics.ts). */
  missed: Uint16Array;
  /** Sum of `missed`. */
  missedTotal: number;
  /** One aligned matrix per model, in the order of the models given (0 where a model lacks the label). */
  probs: Float32Array[];
  /** Per model, per label: 1 when the model predicts the label (see label-coverage.ts). */
  covered: Uint8Array[];
  /** The last `failed` rows: images answered from label priors, not by the models. */
  failed: number;
  /** The labels of that guess. */
  priorLabels: string[];
}

/** The prior guess of a split folder, computed once per folder and label list. */
const priors = new Map<string, Promise<PriorGuess>>();
function priorOf(splitDir: string, labels: string[]): Promise<PriorGuess> {
  const key = `${splitDir}\0${labels.join(',')}`;
  let p = priors.get(key);
  if (!p) priors.set(key, (p = priorGuess(splitDir, labels)));
  return p;
}

/** What weights and thresholds may be fitted on: validation, or out-of-fold predictions over train. */
export type FitSplit = 'validation' | 'oof';

/**
 * The rows of a split no model answers: its entries that are not `scored`, then its failed
 * images (split writes none for train, so `oof` has none).
 */
async function unansweredRows(
  splitDir: string,
  split: FitSplit | 'holdout',
  entries: ManifestEntry[],
  scored: (e: ManifestEntry) => boolean,
): Promise<ManifestEntry[]> {
  const failed = split === 'oof' ? [] : await readFailedEntries(splitDir, split);
  return [...entries.filter((e) => !scored(e)), ...failed];
}

/** The prior guess's labels and its row over `labels` (1 for those labels); none when no row needs it. */
async function guessRow(
  splitDir: string,
  labels: string[],
  needed: boolean,
): Promise<{ prior: string[]; row: Float32Array }> {
  const prior = needed ? (await priorOf(splitDir, labels)).labels : [];
  const row = new Float32Array(labels.length);
  for (const l of prior) row[labels.indexOf(l)] = 1;
  return { prior, row };
}

/**
 * Load one labelled split aligned across models; fails when no image is left for the models.
 * `oof` is the split's train images with every model's out-of-fold predictions (each model must
 * have some: see oofMissing); split writes no failed train file, so only train images some model
 * lacks are answered from priors.
 */
export async function loadScoredSet(
  splitDir: string,
  split: FitSplit | 'holdout',
  labels: string[],
  models: LoadedModel[],
): Promise<ScoredSet> {
  const entries = await readSplitEntries(splitDir, split === 'oof' ? 'train' : split);
  const present = models.map((m) => new Set(m.preds.splits[split]?.ids ?? []));
  const scored = (e: ManifestEntry): boolean => e.error === undefined && present.every((s) => s.has(e.imageId));
  const kept = entries.filter(scored);
  if (kept.length === 0) {
    throw new Error(
      `no ${split} images with predictions from every model (${entries.length} in the split; models: ${models.map((m) => m.name).join(', ')})`,
    );
  }
  const unanswered = await unansweredRows(splitDir, split, entries, scored);
  const { prior, row: guess } = await guessRow(splitDir, labels, unanswered.length > 0);
  const rows = [...kept, ...unanswered];
  const ids = rows.map((e) => e.imageId);
  const missed = missedLabels(rows, labels);
  const L = labels.length;
  const covered: Uint8Array[] = [];
  const probs = models.map((m) => {
    const all = new Float32Array(rows.length * L);
    const aligned = alignCovered(m.preds, split, ids.slice(0, kept.length), labels, m.name);
    all.set(aligned.probs);
    covered.push(aligned.covered);
    // The guess only in the model's own columns: a label it does not predict stays 0 everywhere.
    const own = guess.map((g, l) => g * (aligned.covered[l] as number));
    for (let r = kept.length; r < rows.length; r++) all.set(own, r * L);
    return all;
  });
  return {
    split,
    ids,
    truth: truthMatrix(rows, labels),
    missed,
    missedTotal: missed.reduce((a, b) => a + b, 0),
    probs,
    covered,
    failed: unanswered.length,
    priorLabels: prior,
  };
}

/**
 * The label space a set of models is scored on: the split's labels that at least one model
 * predicts, in the split's order (a model on a label subset is no longer refused; labels no model
 * predicts count as misses, like labels split dropped). Prediction labels not in the split are
 * ignored and counted.
 */
export function predictedLabels(
  splitLabels: string[],
  models: LoadedModel[],
): { labels: string[]; uncovered: string[]; ignored: number } {
  const predicted = new Set(models.flatMap((m) => m.preds.labels));
  const known = new Set(splitLabels);
  const labels = splitLabels.filter((l) => predicted.has(l));
  if (labels.length === 0)
    throw new Error(
      `models ${models.map((m) => m.name).join(', ')} predict none of the split's ${splitLabels.length} labels`,
    );
  return {
    labels,
    uncovered: splitLabels.filter((l) => !predicted.has(l)),
    ignored: [...predicted].filter((l) => !known.has(l)).length,
  };
}

/** Models without out-of-fold predictions (no `oof` split in their predictions.json). */
export function oofMissing(models: readonly LoadedModel[]): string[] {
  return models.filter((m) => !m.preds.splits.oof).map((m) => m.name);
}

/** The log line about a set's images answered from priors, or undefined when there are none. */
export function failedNote(s: ScoredSet): string | undefined {
  if (s.failed === 0) return undefined;
  const guess = s.priorLabels.length ? s.priorLabels.join(' ') : 'no labels';
  return `${s.split}: ${s.failed} of ${s.ids.length} image(s) scored as submit answers them (failed download or no prediction from every model): ${guess}`;
}

/** Test image ids scored by every model, in the first model's order. */
export function commonTestIds(models: LoadedModel[]): string[] {
  const first = models[0]?.preds.splits.test?.ids ?? [];
  const others = models.slice(1).map((m) => new Set(m.preds.splits.test?.ids ?? []));
  const seen = new Set<string>();
  return first.filter((id) => {
    if (seen.has(id) || !others.every((s) => s.has(id))) return false;
    seen.add(id);
    return true;
  });
}

/**
 * What the images of a split without a row in `predicted` add to a micro-F1 count when answered
 * as submit answers them (label priors): constant while a model trains, so early stopping and the
 * plateau can watch the micro-F1 that is reported over every image (see loadScoredSet).
 */
export async function unansweredCounts(
  splitDir: string,
  split: 'validation' | 'holdout',
  labels: string[],
  predicted: ReadonlySet<string>,
): Promise<Counts & { images: number }> {
  const entries = await readSplitEntries(splitDir, split);
  const scored = (e: ManifestEntry): boolean => e.error === undefined && predicted.has(e.imageId);
  const rows = await unansweredRows(splitDir, split, entries, scored);
  if (rows.length === 0) return { tp: 0, fp: 0, fn: 0, images: 0 };
  const L = labels.length;
  const { row } = await guessRow(splitDir, labels, true);
  const guess = new Uint8Array(rows.length * L);
  for (let r = 0; r < rows.length; r++) guess.set(row, r * L);
  return {
    ...confusion(truthMatrix(rows, labels), guess, rows.length, L, missedLabels(rows, labels)),
    images: rows.length,
  };
}
