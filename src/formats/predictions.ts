/**
 * Predicted probabilities, the contract between model stages (train-head, fine-tune-backbone)
 * and ensemble-pso / threshold / submit.
 *
 * Layout inside a stage's output folder:
 *   predictions.json              {"labels":[...label ids, column order...],
 *                                  "splits":{"validation":{"ids":[...imageIds...],"file":"pred-validation.f32"}, ...}}
 *   pred-<split>.f32              float32 little-endian, row-major [ids.length x labels.length]
 * Splits written: validation, holdout, test (those that exist), and `oof` when a model was asked
 * for out-of-fold predictions over train (train-head `oof: true`; ensemble-pso passes them on when
 * every model it combines has them): each training image predicted by a model that never saw it.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const PREDICTIONS_FILE = 'predictions.json';

export interface SplitPredictions {
  ids: string[];
  /** Row-major probabilities, ids.length x labels.length. */
  probs: Float32Array;
}

/** The splits a predictions folder may hold. */
export type PredictedSplit = 'validation' | 'holdout' | 'test' | 'oof';

export interface Predictions {
  labels: string[];
  splits: Partial<Record<PredictedSplit, SplitPredictions>>;
}

interface PredictionsIndex {
  labels: string[];
  splits: Record<string, { ids: string[]; file: string }>;
}

export async function writePredictions(dir: string, preds: Predictions): Promise<void> {
  const index: PredictionsIndex = { labels: preds.labels, splits: {} };
  for (const [split, p] of Object.entries(preds.splits)) {
    if (!p) continue;
    if (p.probs.length !== p.ids.length * preds.labels.length) {
      throw new Error(
        `predictions for ${split}: ${p.probs.length} values for ${p.ids.length} ids x ${preds.labels.length} labels`,
      );
    }
    const file = `pred-${split}.f32`;
    const bytes = Buffer.from(p.probs.buffer, p.probs.byteOffset, p.probs.byteLength);
    await writeFile(join(dir, file), bytes);
    index.splits[split] = { ids: p.ids, file };
  }
  await writeFile(join(dir, PREDICTIONS_FILE), JSON.stringify(index) + '\n');
}

export async function readPredictions(dir: string): Promise<Predictions> {
  const index = JSON.parse(await readFile(join(dir, PREDICTIONS_FILE), 'utf8')) as PredictionsIndex;
  const splits: Predictions['splits'] = {};
  for (const [split, meta] of Object.entries(index.splits)) {
    const buf = await readFile(join(dir, meta.file));
    const probs = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    if (probs.length !== meta.ids.length * index.labels.length) {
      throw new Error(
        `${join(dir, meta.file)}: expected ${meta.ids.length * index.labels.length} floats, found ${probs.length}`,
      );
    }
    splits[split as keyof Predictions['splits']] = { ids: meta.ids, probs };
  }
  return { labels: index.labels, splits };
}
