/** pad's run (the definition and params: ../pad.ts): lines in input order, images padded in parallel. */
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

  let total = 0;
  for await (const _ of readJsonl(manifestPath)) total++;
  await mkdir(join(ctx.out, 'images'), { recursive: true });
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
  const lines = pMapIterable(readJsonl<ManifestEntry>(manifestPath), (entry) => padLine(job, entry), {
    concurrency,
    backpressure: concurrency * 4,
  });
  for await (const done of lines) {
    if (ctx.signal.aborted) break;
    await writer.write(done.row);
    if (done.made) made++;
    const isError = done.row.error !== undefined;
    if (isError) failed++;
    if (done.source && done.row.file && pairs.length < p.preview_images)
      pairs.push([done.source, join(ctx.out, done.row.file)]);
    counter.add(1, isError ? 1 : 0);
  }
  await writer.close();
  if (ctx.signal.aborted) throw new Error('pad aborted');

  await writePadInfo(ctx.out, { size: p.size, quality: p.quality });
  if (pairs.length) await writePreviewGrid(pairs, join(ctx.out, 'preview.jpg'));
  const seconds = (Date.now() - started) / 1000;
  const reused = total - failed - made;
  ctx.log(`${counter.summary()}; padded ${made}, reused ${reused} from earlier runs, concurrency ${concurrency}`);
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
