/**
 * Image manifests (`manifest.jsonl` of fetch/pad, `train.jsonl`… of split): one line per image,
 * and the rest of a split's output (`labels.json`). See DESIGN.md "Stage outputs that others read".
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readJsonl, readJsonlAll } from './jsonl.js';

export type ImageSet = 'train' | 'validation' | 'test';
export type SplitName = 'train' | 'validation' | 'holdout' | 'test';

export interface ManifestEntry {
  imageId: string;
  set: ImageSet;
  /** Deduplicated label ids (absent or empty for test images). */
  labels?: string[];
  /** Path relative to the stage's output folder; absent when `error` is set. */
  file?: string;
  /** Why the image is unusable ("http 404", "decode: …"); no `file` then. */
  error?: string;
}

/** fetch's and pad's image list. */
export const MANIFEST_FILE = 'manifest.jsonl';

/** split's files, one per subset, in a fixed order. */
export const SPLIT_FILES: Record<SplitName, string> = {
  train: 'train.jsonl',
  validation: 'validation.jsonl',
  holdout: 'holdout.jsonl',
  test: 'test.jsonl',
};

/** split's kept label ids in model order. */
export const LABELS_FILE = 'labels.json';

/** The split's kept label ids in model order (`labels.json`: an array of ids, or `{labels:[...]}`). */
export async function readLabelList(splitDir: string): Promise<string[]> {
  const file = join(splitDir, LABELS_FILE);
  const raw = JSON.parse(await readFile(file, 'utf8')) as unknown;
  const list = Array.isArray(raw) ? raw : (raw as { labels?: unknown } | null)?.labels;
  if (!Array.isArray(list) || list.some((x) => typeof x !== 'string' && typeof x !== 'number')) {
    throw new Error(`${file}: expected a JSON array of label ids`);
  }
  const labels = list.map(String);
  if (new Set(labels).size !== labels.length) throw new Error(`${file}: label ids repeat`);
  return labels;
}

/** Subsets present in a split folder, in SPLIT_FILES order. */
export function presentSplits(splitDir: string): SplitName[] {
  return (Object.keys(SPLIT_FILES) as SplitName[]).filter((s) => existsSync(join(splitDir, SPLIT_FILES[s])));
}

/** Stream one subset's lines. */
export function readSplitLines(splitDir: string, split: SplitName): AsyncGenerator<ManifestEntry> {
  return readJsonl<ManifestEntry>(join(splitDir, SPLIT_FILES[split]));
}

/** All lines of one subset (for the small validation/holdout/test files); empty when it has no file. */
export async function readSplitEntries(splitDir: string, split: SplitName): Promise<ManifestEntry[]> {
  const file = join(splitDir, SPLIT_FILES[split]);
  if (!existsSync(file)) return [];
  return readJsonlAll<ManifestEntry>(file);
}
