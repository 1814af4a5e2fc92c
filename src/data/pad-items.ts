/**
 * pad's work on one manifest line: the padded image from the item store when this code already
 * padded these bytes at this size and quality, else padded now and stored. Lines without a usable
 * file pass through; a file path that leaves the input folder, or an image that cannot be padded,
 * becomes an error line.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ManifestEntry } from '../formats/manifest.js';
import { containedPath } from '../stage-kit/inputs.js';
import type { ItemStore } from '../stage-kit/item-store.js';
import { hashBytes, itemKey } from '../stage-kit/state.js';
import { padImage, type PadSpec } from './pad-image.js';

export interface PaddedLine {
  row: ManifestEntry;
  /** Padded now (not found in the store). */
  made: boolean;
  /** The input image, for the preview. */
  source?: string;
}

export interface PadJob {
  store: ItemStore;
  codeKey: string;
  spec: PadSpec;
  /** Folder the manifest's `file` paths are relative to. */
  inputDir: string;
  outDir: string;
}

export async function padLine(job: PadJob, entry: ManifestEntry): Promise<PaddedLine> {
  const row: ManifestEntry = { ...entry };
  if (entry.error !== undefined || entry.file === undefined) return { row, made: false };
  const source = containedPath(job.inputDir, entry.file);
  if (source === undefined) {
    delete row.file;
    row.error = 'bad file path in manifest';
    return { row, made: false };
  }
  // Synchronous read: see ItemStore on keeping libuv's pool for sharp.
  const bytes = readFileSync(source);
  const input = [hashBytes(bytes), job.spec.size, job.spec.quality] as const;
  // Stored under a key with the code key (other code never serves this image); named in the
  // output by its inputs alone, so a change to pad's code that pads the same pixels leaves pad's
  // output, and so everything downstream, as it was.
  const key = itemKey(job.codeKey, 'pad', ...input);
  const name = itemKey('pad-output', ...input);
  let made = false;
  if (!job.store.has(key, 'jpg')) {
    try {
      await job.store.putAs(key, 'jpg', await padImage(bytes, job.spec));
      made = true;
    } catch (e) {
      delete row.file;
      row.error = `pad: ${(e as Error).message.replace(/\s+/g, ' ').slice(0, 120)}`;
      return { row, made: false };
    }
  }
  row.file = `images/${name}.jpg`;
  await job.store.linkTo(key, 'jpg', join(job.outDir, row.file));
  return { row, made, source };
}
