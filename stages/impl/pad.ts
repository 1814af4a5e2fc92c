/**
 * pad's run (the definition and params: ../pad.ts): lines in input order, images padded in parallel.
 * Under `shards: N` (the `shard` param) a run pads only its shard's lines (src/stage-kit/shard.ts);
 * the first shard also writes the preview of the first usable lines of the whole manifest, padding
 * the few of them that are other shards' (their bytes are the same as those shards write).
 */
import { mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { pMapIterable } from 'p-map';
import type { StageContext } from '../../src/stage-api.js';
import { JsonlWriter, readJsonl } from '../../src/formats/jsonl.js';
import type { ManifestEntry } from '../../src/formats/manifest.js';
import { inputBase, resolveInput } from '../../src/stage-kit/inputs.js';
import { ItemStore } from '../../src/stage-kit/item-store.js';
import { ItemCounter } from '../../src/stage-kit/progress.js';
import { ShardPart } from '../../src/stage-kit/shard.js';
import { codeScopedDir } from '../../src/stage-kit/state.js';
import { padLine, type PadJob } from '../../src/data/pad-items.js';
import { writePadInfo } from '../../src/data/pad-info.js';
import { writePreviewGrid } from '../../src/data/preview-grid.js';
import type { PadParams } from '../pad.js';

export default async function pad(ctx: StageContext<PadParams>): Promise<void> {
  const p = ctx.params;
  const base = inputBase(ctx, p.from);
  const manifestPath = resolveInput(base, p.manifest);
  const started = Date.now();

  await mkdir(join(ctx.out, 'images'), { recursive: true });
  const part = await ShardPart.open(ctx.out, p.shard);
  let total = 0;
  for await (const e of readJsonl<ManifestEntry>(manifestPath)) if (part.mine(e.imageId)) total++;
  const job: PadJob = {
    store: await ItemStore.open(await codeScopedDir(ctx, 'padded')),
    codeKey: ctx.codeKey,
    spec: { size: p.size, quality: p.quality },
    inputDir: base,
    outDir: ctx.out,
  };
  const concurrency = p.concurrency || 2 * availableParallelism();
  const counter = new ItemCounter(ctx, total, 'images');
  const writer = new JsonlWriter(join(ctx.out, 'manifest.jsonl'));
  const pairs: Array<[string, string]> = [];
  let made = 0;
  let failed = 0;
  // Results come back in input order; up to 4 x concurrency lines are read ahead of the writer.
  const lines = pMapIterable(
    mine(part, manifestPath),
    async ({ entry, rank }) => ({ rank, ...(await padLine(job, entry)) }),
    { concurrency, backpressure: concurrency * 4 },
  );
  for await (const done of lines) {
    if (ctx.signal.aborted) break;
    await writer.write(done.row);
    await part.placed(done.row.set, done.row.imageId, done.rank);
    if (done.made) made++;
    const isError = done.row.error !== undefined;
    if (isError) failed++;
    if (done.source && done.row.file && pairs.length < p.preview_images)
      pairs.push([done.source, join(ctx.out, done.row.file)]);
    counter.add(1, isError ? 1 : 0);
  }
  await writer.close();
  await part.close();
  if (ctx.signal.aborted) throw new Error('pad aborted');

  await writePadInfo(ctx.out, { size: p.size, quality: p.quality });
  if (part.first) {
    const preview = part.sharded ? await previewPairs(job, manifestPath, p.preview_images) : pairs;
    if (preview.length) await writePreviewGrid(preview, join(ctx.out, 'preview.jpg'));
  }
  const seconds = (Date.now() - started) / 1000;
  const reused = total - failed - made;
  ctx.log(
    `${part.sharded ? `${part.label()}: ` : ''}${counter.summary()}; padded ${made}, reused ${reused} from earlier runs, concurrency ${concurrency}`,
  );
  ctx.metrics({
    images: total,
    padded: made,
    reused,
    failed,
    size: p.size,
    quality: p.quality,
    seconds,
    images_per_second: total / Math.max(seconds, 1e-9),
  });
}

/** The manifest lines of this shard, with their line number (the rank the assembly orders by). */
async function* mine(part: ShardPart, manifestPath: string): AsyncGenerator<{ entry: ManifestEntry; rank: number }> {
  let rank = 0;
  for await (const entry of readJsonl<ManifestEntry>(manifestPath)) {
    if (part.mine(entry.imageId)) yield { entry, rank };
    rank++;
  }
}

/** The preview of the unsharded run: the first `n` usable lines of the whole manifest, in order. */
async function previewPairs(job: PadJob, manifestPath: string, n: number): Promise<Array<[string, string]>> {
  const pairs: Array<[string, string]> = [];
  if (n === 0) return pairs;
  for await (const entry of readJsonl<ManifestEntry>(manifestPath)) {
    const done = await padLine(job, entry);
    if (done.source && done.row.file) pairs.push([done.source, join(job.outDir, done.row.file)]);
    if (pairs.length >= n) break;
  }
  return pairs;
}
