/**
 * precompute's output, from the per-image feature cache: per split, float16/float32 shards, the
 * rows (`rows-<split>.jsonl`) in shard order and the images without features
 * (`missing-<split>.jsonl`), described by `features.json` (src/formats/features.ts).
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readJsonl, JsonlWriter } from '../formats/jsonl.js';
import type { SplitName } from '../formats/manifest.js';
import {
  FEATURES_FILE,
  ShardWriter,
  type FeatureDtype,
  type FeatureIndex,
  type SplitShards,
} from '../formats/features.js';
import type { FeatureCache } from './feature-cache.js';

/** One image's line of the first pass: the rows of the output, in split order. */
export interface ScannedRow {
  imageId: string;
  labels: string[];
  hash?: string;
  error?: string;
}

/** Where the first pass writes its rows, one file per split, inside the output folder (removed after). */
export const scannedRowsFile = (out: string, split: SplitName): string => join(out, `.pass1-${split}.jsonl`);

export interface ShardSource {
  cache: FeatureCache;
  modelKey: string;
  /** Images whose features could not be computed, by hash, with the reason. */
  failed: ReadonlyMap<string, string>;
}

/** Write every split's shards from the cache; `index` gets the splits and the dimension. */
export async function writeFeatureShards(
  out: string,
  splits: readonly SplitName[],
  source: ShardSource,
  index: FeatureIndex,
  shardRows: number,
): Promise<{ rows: number; missing: number }> {
  let rowsTotal = 0;
  let missingTotal = 0;
  for (const s of splits) {
    const meta: SplitShards = {
      rows: 0,
      rowsFile: `rows-${s}.jsonl`,
      shards: [],
      missing: 0,
      missingFile: `missing-${s}.jsonl`,
    };
    const rows = new JsonlWriter(join(out, meta.rowsFile));
    const missing = new JsonlWriter(join(out, meta.missingFile));
    let shards: ShardWriter | undefined;
    for await (const r of readJsonl<ScannedRow>(scannedRowsFile(out, s))) {
      const values = r.hash && !source.failed.has(r.hash) ? source.cache.get(source.modelKey, r.hash) : undefined;
      if (!values) {
        meta.missing++;
        await missing.write({
          imageId: r.imageId,
          error: r.error ?? (r.hash && source.failed.get(r.hash)) ?? 'no features',
        });
        continue;
      }
      if (index.dim === 0) index.dim = values.length;
      shards ??= new ShardWriter(out, s, index.dim, index.dtype as FeatureDtype, shardRows);
      await shards.add(values);
      await rows.write({ imageId: r.imageId, labels: r.labels, hash: r.hash });
    }
    await shards?.close();
    await rows.close();
    await missing.close();
    await rm(scannedRowsFile(out, s));
    meta.rows = shards?.rows ?? 0;
    meta.shards = shards?.shards ?? [];
    index.splits[s] = meta;
    rowsTotal += meta.rows;
    missingTotal += meta.missing;
  }
  await writeFile(join(out, FEATURES_FILE), JSON.stringify(index, null, 2) + '\n');
  return { rows: rowsTotal, missing: missingTotal };
}
