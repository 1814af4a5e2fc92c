/**
 * `thresholds.json`, written by the threshold stage and read by submit, plus a fingerprint of the
 * predictions the thresholds were fitted on (so submit refuses thresholds fitted on other
 * probabilities than the ones it is about to threshold).
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PREDICTIONS_FILE } from './predictions.js';

export const THRESHOLDS_FILE = 'thresholds.json';

export type ThresholdMode = 'per-label' | 'global' | 'fixed';

export interface ThresholdsFile {
  /** Label ids, in the order of `thresholds`. */
  labels: string[];
  /** The threshold in use per label: predicted when probability >= threshold. */
  thresholds: number[];
  mode: ThresholdMode;
  /** Give an image its top label when no label reaches its threshold. */
  at_least_one: boolean;
  /** Best global threshold found on validation. */
  global: number;
  /** The fixed threshold compared against (and used in mode "fixed"). */
  fixed: number;
  steps: number;
  min_support: number;
  /** The predictions producer the thresholds were fitted on. */
  predictions: { stage: string; sha256: string };
}

/** SHA-256 over predictions.json and every probability file it lists (in its order). */
export async function predictionsFingerprint(dir: string): Promise<string> {
  const hash = createHash('sha256');
  const indexText = await readFile(join(dir, PREDICTIONS_FILE));
  hash.update(indexText);
  const index = JSON.parse(indexText.toString('utf8')) as { splits?: Record<string, { file?: string }> };
  for (const meta of Object.values(index.splits ?? {})) {
    if (typeof meta.file === 'string') hash.update(await readFile(join(dir, meta.file)));
  }
  return hash.digest('hex');
}

export async function writeThresholdsFile(dir: string, t: ThresholdsFile): Promise<void> {
  await writeFile(join(dir, THRESHOLDS_FILE), JSON.stringify(t, null, 2) + '\n');
}

/** Read and check thresholds.json (one finite threshold per label). */
export async function readThresholdsFile(dir: string): Promise<ThresholdsFile> {
  const file = join(dir, THRESHOLDS_FILE);
  const t = JSON.parse(await readFile(file, 'utf8')) as Partial<ThresholdsFile>;
  if (!Array.isArray(t.labels) || !Array.isArray(t.thresholds) || t.labels.length !== t.thresholds.length) {
    throw new Error(`${file}: expected "labels" and "thresholds" arrays of the same length`);
  }
  if (t.thresholds.some((v) => typeof v !== 'number' || !Number.isFinite(v)))
    throw new Error(`${file}: every threshold must be a finite number`);
  if (typeof t.predictions?.sha256 !== 'string') throw new Error(`${file}: missing "predictions.sha256"`);
  return t as ThresholdsFile;
}
