/**
 * fetch's third pass: `manifest.jsonl` (one line per listed image, in file order), `failures.csv`
 * (`imageId,url,reason`) and the links from `images/` to the stored images, from the index the
 * second pass filled. Under `shards: N` only the shard's images, each with its rank in the unsharded
 * manifest (src/stage-kit/shard.ts).
 */
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CsvWriter } from '../formats/csv.js';
import { JsonlWriter } from '../formats/jsonl.js';
import { MANIFEST_FILE, type ImageSet, type ManifestEntry } from '../formats/manifest.js';
import type { ItemStore } from '../stage-kit/item-store.js';
import type { ShardPart } from '../stage-kit/shard.js';
import type { AnnotationSpill } from './annotation-spill.js';
import type { FetchIndex } from './fetch-index.js';
import { sourceKey } from './fetch-source.js';
import { readImages } from './imaterialist-read.js';
import { parseImageUrl } from './url-source.js';

export const FAILURES_FILE = 'failures.csv';

export interface FetchOutputs {
  ok: number;
  failed: number;
  reasons: Record<string, number>;
}

export async function writeFetchOutputs(
  out: string,
  files: ReadonlyArray<{ set: ImageSet; path: string }>,
  sources: { index: FetchIndex; store: ItemStore; spill: AnnotationSpill },
  signal: AbortSignal,
  part?: ShardPart,
): Promise<FetchOutputs> {
  const { index, store, spill } = sources;
  await mkdir(join(out, 'images'), { recursive: true });
  const manifest = new JsonlWriter(join(out, MANIFEST_FILE));
  const failures = new CsvWriter(join(out, FAILURES_FILE), ['imageId', 'url', 'reason']);
  const result: FetchOutputs = { ok: 0, failed: 0, reasons: {} };
  // Images shared by many entries are linked once; a bounded set keeps memory flat.
  const recentlyLinked = new Set<string>();
  let rank = -1;
  for (const f of files) {
    const jsonDir = dirname(f.path);
    for await (const rec of readImages(f.path)) {
      if (signal.aborted) throw new Error('fetch aborted');
      rank++;
      if (part && !part.mine(rec.imageId)) continue;
      await part?.placed(f.set, rec.imageId, rank);
      const src = parseImageUrl(rec.url, jsonDir);
      const entry = index.get(await sourceKey(src, rec.url));
      const row: ManifestEntry = { imageId: rec.imageId, set: f.set };
      if (f.set !== 'test') row.labels = spill.get(f.set, rec.imageId) ?? [];
      if (entry?.ok) {
        row.file = `images/${entry.hash}.${entry.ext}`;
        if (!recentlyLinked.has(entry.hash)) {
          await store.linkTo(entry.hash, entry.ext, join(out, row.file));
          recentlyLinked.add(entry.hash);
          if (recentlyLinked.size > 4096) recentlyLinked.delete(recentlyLinked.values().next().value as string);
        }
        result.ok++;
      } else {
        row.error = entry ? entry.error : 'source changed during the run';
        result.reasons[row.error] = (result.reasons[row.error] ?? 0) + 1;
        result.failed++;
        await failures.write([rec.imageId, rec.url, row.error]);
      }
      await manifest.write(row);
    }
  }
  await manifest.close();
  await failures.close();
  return result;
}
