/**
 * Truth and probabilities for ensemble-pso, threshold and submit, aligned to one image order and
 * the split's label order. (Which upstream folders are the models and the split:
 * src/stage-kit/inputs.ts.)
 */
import { readPredictions, type Predictions } from '../formats/predictions.js';
import { readSplitEntries } from '../formats/manifest.js';
import type { NamedDir } from '../stage-kit/inputs.js';
import { alignPredictions, missedLabels, truthMatrix } from './label-matrix.js';

export interface LoadedModel extends NamedDir {
  preds: Predictions;
}

export async function loadModels(dirs: NamedDir[]): Promise<LoadedModel[]> {
  return Promise.all(dirs.map(async (d) => ({ ...d, preds: await readPredictions(d.dir) })));
}

/** Truth and every model's probabilities for one labelled split, on the images all models scored. */
export interface ScoredSet {
  split: 'validation' | 'holdout';
  ids: string[];
  truth: Uint8Array;
  /** Per image, true labels outside the split's label list (always missed; see metrics.ts). */
  missed: Uint16Array;
  /** Sum of `missed`. */
  missedTotal: number;
  /** One aligned matrix per model, in the order of the models given. */
  probs: Float32Array[];
  /** Images of the split left out: failed downloads or missing from some model's predictions. */
  dropped: number;
}

/** Load one labelled split aligned across models; fails when no image is left. */
export async function loadScoredSet(
  splitDir: string,
  split: 'validation' | 'holdout',
  labels: string[],
  models: LoadedModel[],
): Promise<ScoredSet> {
  const entries = await readSplitEntries(splitDir, split);
  const present = models.map((m) => new Set(m.preds.splits[split]?.ids ?? []));
  const kept = entries.filter((e) => e.error === undefined && present.every((s) => s.has(e.imageId)));
  if (kept.length === 0) {
    throw new Error(
      `no ${split} images with predictions from every model (${entries.length} in the split; models: ${models.map((m) => m.name).join(', ')})`,
    );
  }
  const ids = kept.map((e) => e.imageId);
  const missed = missedLabels(kept, labels);
  return {
    split,
    ids,
    truth: truthMatrix(kept, labels),
    missed,
    missedTotal: missed.reduce((a, b) => a + b, 0),
    probs: models.map((m) => alignPredictions(m.preds, split, ids, labels, m.name)),
    dropped: entries.length - kept.length,
  };
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
