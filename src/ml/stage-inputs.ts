/**
 * Finding a model stage's inputs among its upstream folders. A stage may name them with params
 * (`split: <stage>`, `images: <stage>`, `features: <stage>`); otherwise the one needed stage whose
 * folder holds the telltale file is used (split: train.jsonl + labels.json; images: manifest.jsonl;
 * features: features.json). Ambiguity or absence is a clear error naming the param to set.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { SPLIT_FILES, type ManifestEntry, type SplitName } from '../formats/manifest.js';
import { readJsonl } from '../formats/jsonl.js';

type Needs = Readonly<Record<string, string>>;

/** Pick the upstream folder for a role. */
export function findNeed(
  needs: Needs,
  role: string,
  param: string,
  named: string | undefined,
  has: (dir: string) => boolean,
): string {
  if (named) {
    const dir = needs[named];
    if (!dir)
      throw new Error(
        `${param}: ${JSON.stringify(named)} is not among this stage's needs (${Object.keys(needs).join(', ') || 'none'})`,
      );
    if (!has(dir)) throw new Error(`${param}: stage ${named}'s output does not look like ${role}`);
    return dir;
  }
  const found = Object.entries(needs).filter(([, dir]) => has(dir));
  if (found.length === 1) return found[0]![1];
  if (found.length === 0)
    throw new Error(`no needed stage provides ${role} (needs: ${Object.keys(needs).join(', ') || 'none'})`);
  throw new Error(
    `several needed stages provide ${role} (${found.map(([n]) => n).join(', ')}): set the param ${param}`,
  );
}

export const isSplitDir = (dir: string): boolean =>
  existsSync(join(dir, SPLIT_FILES.train)) && existsSync(join(dir, 'labels.json'));
export const isImagesDir = (dir: string): boolean => existsSync(join(dir, 'manifest.jsonl'));

/** The split folder and the folder that image `file` paths are relative to. */
export function resolveImageInputs(
  needs: Needs,
  params: { split?: string; images?: string },
): { splitDir: string; imagesDir: string } {
  const splitDir = findNeed(needs, 'a split (train.jsonl + labels.json)', 'split', params.split, isSplitDir);
  const others = Object.fromEntries(Object.entries(needs).filter(([, d]) => d !== splitDir));
  // Without a separate images stage, the split folder itself may hold the images.
  const imagesDir =
    params.images || Object.values(others).some(isImagesDir)
      ? findNeed(others, 'images (manifest.jsonl)', 'images', params.images, isImagesDir)
      : splitDir;
  return { splitDir, imagesDir };
}

/** Splits present in the split folder, in a fixed order. */
export function presentSplits(splitDir: string): SplitName[] {
  return (Object.keys(SPLIT_FILES) as SplitName[]).filter((s) => existsSync(join(splitDir, SPLIT_FILES[s])));
}

/** Stream one split's manifest lines. */
export function readSplitLines(splitDir: string, split: SplitName): AsyncGenerator<ManifestEntry> {
  return readJsonl<ManifestEntry>(join(splitDir, SPLIT_FILES[split]));
}

/**
 * Absolute path of a manifest `file` inside `base`; undefined when it would leave the folder
 * (manifest contents are data, never a way to read elsewhere).
 */
export function containedPath(base: string, file: string): string | undefined {
  const abs = resolve(base, file);
  const rel = relative(base, abs);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return undefined;
  return abs;
}
