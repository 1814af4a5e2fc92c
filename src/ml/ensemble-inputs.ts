/**
 * How ensemble-pso, threshold and submit find their inputs among `ctx.needs`, and how they load
 * truth and probabilities aligned to one image order and the split's label order.
 *
 * A needed folder holding `predictions.json` is a predictions producer (a model or an ensemble);
 * the one holding `labels.json` and `holdout.jsonl` is the split. Params may name a stage
 * explicitly when more than one folder qualifies.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PREDICTIONS_FILE, readPredictions, type Predictions } from '../formats/predictions.js';
import { alignPredictions, missedLabels, readSplitEntries, truthMatrix } from './label-matrix.js';

export interface NamedDir {
  /** Upstream stage name as in `ctx.needs`. */
  name: string;
  dir: string;
}

const has = (dir: string, ...files: string[]) => files.every((f) => existsSync(join(dir, f)));

function listNeeds(needs: Readonly<Record<string, string>>): string {
  const names = Object.keys(needs);
  return names.length === 0 ? 'none' : names.join(', ');
}

/**
 * The needed folder that holds all of `files`: the one named by `override` (which must qualify),
 * else the only one that qualifies. `role` and `param` word the error messages.
 */
export function findNeed(
  needs: Readonly<Record<string, string>>,
  files: string[],
  role: string,
  param: string,
  override?: string,
): NamedDir {
  if (override !== undefined && override !== '') {
    const dir = needs[override];
    if (dir === undefined)
      throw new Error(`param ${param}: "${override}" is not among this stage's needs (${listNeeds(needs)})`);
    if (!has(dir, ...files))
      throw new Error(`param ${param}: stage "${override}" has no ${files.join(' + ')}, so it is not a ${role}`);
    return { name: override, dir };
  }
  const found = Object.entries(needs)
    .filter(([, dir]) => has(dir, ...files))
    .map(([name, dir]) => ({ name, dir }));
  if (found.length === 1) return found[0] as NamedDir;
  if (found.length === 0)
    throw new Error(
      `no ${role} among needs (${listNeeds(needs)}): expected a stage whose output holds ${files.join(' + ')}`,
    );
  throw new Error(
    `several ${role}s among needs (${found.map((f) => f.name).join(', ')}): name one with param ${param}`,
  );
}

/** The split stage's folder (labels.json + holdout.jsonl). */
export function findSplit(needs: Readonly<Record<string, string>>, override?: string): NamedDir {
  return findNeed(needs, ['labels.json', 'holdout.jsonl'], 'split stage', 'split', override);
}

/** Every needed folder with predictions.json, sorted by stage name so the order never depends on YAML order. */
export function findPredictionDirs(needs: Readonly<Record<string, string>>): NamedDir[] {
  return Object.entries(needs)
    .filter(([, dir]) => has(dir, PREDICTIONS_FILE))
    .map(([name, dir]) => ({ name, dir }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

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
