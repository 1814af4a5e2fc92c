/**
 * One split of precompute's output as train-head reads it: features left in their shards (read per
 * batch, feature-shards.ts), and the rows file streamed once into image ids and a 0/1 label
 * matrix. Label names per row are kept only where outputs need them (the scored and submitted
 * splits, tens of thousands of rows); for a million training rows they would cost more than the
 * matrix itself.
 */
import { join } from 'node:path';
import { readJsonl } from '../formats/jsonl.js';
import { openSplitFeatures, type ShardedFeatures } from '../formats/feature-shards.js';
import type { FeatureIndex } from '../formats/features.js';

export interface OpenSplit {
  ids: string[];
  /** Each row's label ids as stored (with labels split dropped); only when asked for. */
  labels?: string[][];
  /** 0/1 truth, rows x index.labels.length; labels not in index.labels are ignored. */
  y: Uint8Array;
  x: ShardedFeatures;
}

export async function openSplit(
  dir: string,
  index: FeatureIndex,
  split: string,
  opts: { keepLabels: boolean },
): Promise<OpenSplit | undefined> {
  const meta = index.splits[split];
  const x = openSplitFeatures(dir, index, split);
  if (!meta || !x) return undefined;
  const L = index.labels.length;
  const col = new Map(index.labels.map((l, i) => [l, i]));
  const y = new Uint8Array(meta.rows * L);
  const ids: string[] = [];
  const labels: string[][] | undefined = opts.keepLabels ? [] : undefined;
  const file = join(dir, meta.rowsFile);
  let listed = 0;
  for await (const row of readJsonl<{ imageId: string; labels?: string[] }>(file)) {
    const r = listed++;
    if (r >= meta.rows) continue;
    ids.push(row.imageId);
    labels?.push(row.labels ?? []);
    for (const l of row.labels ?? []) {
      const c = col.get(String(l));
      if (c !== undefined) y[r * L + c] = 1;
    }
  }
  if (listed !== meta.rows) {
    x.close();
    throw new Error(`${dir}: split ${split} has ${listed} rows listed in ${file}, expected ${meta.rows}`);
  }
  return { ids, labels, y, x };
}
