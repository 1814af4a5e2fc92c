/**
 * Walking one split's manifest lines to the image files they name, with each file's content hash
 * (from the feature cache's stat table when unchanged). Lines that cannot give an image — a fetch
 * failure, no file, a path leaving the images folder, a missing file — come back with the reason.
 */
import { existsSync } from 'node:fs';
import { readSplitLines, type SplitName } from '../formats/manifest.js';
import type { FeatureCache } from './feature-cache.js';
import { containedPath } from '../stage-kit/inputs.js';

export interface ScannedImage {
  imageId: string;
  labels: string[];
  /** Absolute path of the image (absent with `error`). */
  path?: string;
  hash?: string;
  /** The file's bytes when it had to be read for hashing. */
  bytes?: Buffer;
  error?: string;
  /** The line's position (0-based) in the split file. */
  rank: number;
}

export async function* scanSplitImages(
  splitDir: string,
  imagesDir: string,
  split: SplitName,
  cache: FeatureCache,
  /** Lines to walk (a shard's): the others are skipped before their file is read. */
  keep: (imageId: string) => boolean = () => true,
): AsyncGenerator<ScannedImage> {
  let rank = -1;
  for await (const e of readSplitLines(splitDir, split)) {
    rank++;
    if (!keep(String(e.imageId))) continue;
    const row: ScannedImage = { imageId: String(e.imageId), labels: (e.labels ?? []).map(String), rank };
    const path = e.file && !e.error ? containedPath(imagesDir, e.file) : undefined;
    if (e.error) row.error = e.error;
    else if (!e.file) row.error = 'no file';
    else if (!path) row.error = 'file path leaves the images folder';
    else if (!existsSync(path)) row.error = 'file not found';
    else {
      const { hash, bytes } = await cache.hashFile(path);
      row.path = path;
      row.hash = hash;
      row.bytes = bytes;
    }
    yield row;
  }
}
