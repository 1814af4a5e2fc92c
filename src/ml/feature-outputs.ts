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
  /** Position in the split file (written under `shards: N`, for the assembly). */
  rank?: number;
}

/** Under a shard's `_shard/`: `{shard_rows}`, so the assembly cuts its shard files where precompute would. */
export const FEATURE_LAYOUT_NOTE = 'features-layout.json';

/** Where the first pass writes its rows, one file per split, inside the output folder (removed after). */
export const scannedRowsFile = (out: string, split: SplitName): string => join(out, `.pass1-${split}.jsonl`);

export interface ShardSource {
  cache: FeatureCache;
  modelKey: string;
  /** Images whose features could not be computed, by hash, with the reason. */
  failed: ReadonlyMap<string, string>;
}

/** One row for a split's outputs: features, or the reason there are none. */
export interface FeatureRowIn {
  imageId: string;
  labels?: string[];
  hash?: string;
  values?: Float32Array;
  /** The row already in the index's dtype (assembly: shard bytes copied as they are); instead of `values`. */
  encoded?: Uint8Array;
  error?: string;
  rank?: number;
}

/** Told of each line written: the row and the file (rows or missing list) it went to. */
export type OnLine = (row: FeatureRowIn, file: string) => Promise<void>;

/**
 * Write one split's shards, rows file and missing list from rows in split order; `index.dim` is
 * taken from the first row with values when it is 0. Returns the split's entry of features.json.
 */
export async function writeSplitShards(
  out: string,
  split: SplitName,
  rowsIn: AsyncIterable<FeatureRowIn>,
  index: FeatureIndex,
  shardRows: number,
  onLine?: OnLine,
): Promise<SplitShards> {
  const meta: SplitShards = {
    rows: 0,
    rowsFile: `rows-${split}.jsonl`,
    shards: [],
    missing: 0,
    missingFile: `missing-${split}.jsonl`,
  };
  const rows = new JsonlWriter(join(out, meta.rowsFile));
  const missing = new JsonlWriter(join(out, meta.missingFile));
  let shards: ShardWriter | undefined;
  for await (const r of rowsIn) {
    if (!r.values && !r.encoded) {
      meta.missing++;
      await missing.write({ imageId: r.imageId, error: r.error ?? 'no features' });
      await onLine?.(r, meta.missingFile);
      continue;
    }
    if (index.dim === 0) index.dim = r.values?.length ?? 0;
    shards ??= new ShardWriter(out, split, index.dim, index.dtype as FeatureDtype, shardRows);
    if (r.encoded) await shards.addEncoded(r.encoded);
    else await shards.add(r.values!);
    await rows.write({ imageId: r.imageId, labels: r.labels, hash: r.hash });
    await onLine?.(r, meta.rowsFile);
  }
  await shards?.close();
  await rows.close();
  await missing.close();
  meta.rows = shards?.rows ?? 0;
  meta.shards = shards?.shards ?? [];
  return meta;
}

/** The first pass's rows of a split joined with their features from the cache. */
async function* cachedRows(out: string, split: SplitName, source: ShardSource): AsyncGenerator<FeatureRowIn> {
  for await (const r of readJsonl<ScannedRow>(scannedRowsFile(out, split))) {
    const values = r.hash && !source.failed.has(r.hash) ? source.cache.get(source.modelKey, r.hash) : undefined;
    yield values
      ? { imageId: r.imageId, labels: r.labels, hash: r.hash, values, rank: r.rank }
      : { imageId: r.imageId, error: r.error ?? (r.hash && source.failed.get(r.hash)) ?? 'no features', rank: r.rank };
  }
}

/** Write every split's shards from the cache; `index` gets the splits and the dimension. */
export async function writeFeatureShards(
  out: string,
  splits: readonly SplitName[],
  source: ShardSource,
  index: FeatureIndex,
  shardRows: number,
  onLine?: (split: SplitName) => OnLine,
): Promise<{ rows: number; missing: number }> {
  let rowsTotal = 0;
  let missingTotal = 0;
  for (const s of splits) {
    const meta = await writeSplitShards(out, s, cachedRows(out, s, source), index, shardRows, onLine?.(s));
    await rm(scannedRowsFile(out, s));
    index.splits[s] = meta;
    rowsTotal += meta.rows;
    missingTotal += meta.missing;
  }
  await writeFile(join(out, FEATURES_FILE), JSON.stringify(index, null, 2) + '\n');
  return { rows: rowsTotal, missing: missingTotal };
}
