/**
 * pad — white-pad every image to a square (aspect ratio kept), resize to `size`, re-encode JPEG
 * at `quality`, as the reference pipeline did for its CNN inputs.
 *
 * Input: the upstream stage's `manifest.jsonl` (fetch's, or any with the same line shape; `from`
 * picks the upstream stage when there are several). Output: `manifest.jsonl` (same lines, `file`
 * now the padded image; lines with `error` pass through), `images/<key>.jpg`, `preview.jpg` (a
 * grid of originals beside their padded versions), metrics.
 *
 * Incremental per item: a padded image is stored in `ctx.state` under a hash of (input bytes,
 * size, quality, code version) and hard-linked into the output, so a rerun with new images (or
 * after an interruption) pads only what it has not padded before. Several images are processed at
 * once (sharp works on libuv's thread pool) so every core is busy.
 */
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { isAbsolute, join, normalize, sep } from 'node:path';
import { defineStage } from '../src/stage-api.js';
import { JsonlWriter, readJsonl } from '../src/formats/jsonl.js';
import type { ManifestEntry } from '../src/formats/manifest.js';
import { hashBytes } from '../src/cache/hash.js';
import { inputBase, resolveInput } from '../src/data/input-paths.js';
import { createLimiter } from '../src/data/limiter.js';
import { ObjectStore } from '../src/data/object-store.js';
import { PAD_VERSION, padImage, type SharpFactory } from '../src/data/pad-image.js';
import { writePreviewGrid } from '../src/data/preview-grid.js';
import { ProgressMeter } from '../src/data/progress-meter.js';

interface PadParams {
  size: number;
  quality: number;
  from?: string;
  manifest: string;
  concurrency: number;
  preview_images: number;
}

/** An input `file` must stay inside the upstream folder: manifests are data, not trusted paths. */
function safeRelative(file: string): string | undefined {
  if (file === '' || isAbsolute(file) || file.includes('\0')) return undefined;
  const n = normalize(file);
  if (n === '..' || n.startsWith(`..${sep}`)) return undefined;
  return n;
}

type Done = { row: ManifestEntry; made: boolean; reused: boolean; source?: string } | { crash: unknown };

export default defineStage<PadParams>({
  description: 'White-pad images to a square, resize and re-encode as JPEG (item-level incremental)',
  deterministic: true,
  params: {
    type: 'object',
    additionalProperties: false,
    properties: {
      size: { type: 'integer', minimum: 8, maximum: 4096, default: 224, description: 'side of the square output (px)' },
      quality: { type: 'integer', minimum: 1, maximum: 100, default: 85, description: 'JPEG quality' },
      from: {
        type: 'string',
        minLength: 1,
        description: 'upstream stage holding the manifest (when there are several)',
      },
      manifest: { type: 'string', minLength: 1, default: 'manifest.jsonl' },
      concurrency: {
        type: 'integer',
        minimum: 0,
        maximum: 256,
        default: 0,
        description: 'images in flight; 0 = 2 per core',
      },
      preview_images: { type: 'integer', minimum: 0, maximum: 64, default: 8 },
    },
  },
  async run(ctx) {
    const p = ctx.params;
    const base = inputBase(ctx, p.from);
    if (!base.ok) throw new Error(base.error);
    const manifestPath = resolveInput(base.value, p.manifest);
    const { default: sharpModule } = await import('sharp');
    const sharp: SharpFactory = sharpModule;
    const started = Date.now();

    let total = 0;
    for await (const _ of readJsonl(manifestPath)) total++;
    const store = await ObjectStore.open(ctx.state);
    await mkdir(join(ctx.out, 'images'), { recursive: true });
    const concurrency = p.concurrency || 2 * availableParallelism();
    const limit = createLimiter(concurrency);
    const meter = new ProgressMeter(ctx, total, 'images');
    const spec = { size: p.size, quality: p.quality };

    const padOne = async (entry: ManifestEntry): Promise<Done> => {
      try {
        const row: ManifestEntry = { ...entry };
        if (entry.error !== undefined || entry.file === undefined) return { row, made: false, reused: false };
        const rel = safeRelative(entry.file);
        if (rel === undefined) {
          delete row.file;
          row.error = 'bad file path in manifest';
          return { row, made: false, reused: false };
        }
        const source = join(base.value, rel);
        return await limit(async () => {
          // Synchronous read: see ObjectStore on keeping libuv's pool for sharp.
          const bytes = readFileSync(source);
          const key = hashBytes(`pad:v${PAD_VERSION}:${hashBytes(bytes)}:${spec.size}:${spec.quality}`);
          let made = false;
          if (!store.has(key, 'jpg')) {
            try {
              await store.putAs(key, 'jpg', await padImage(sharp, bytes, spec));
              made = true;
            } catch (e) {
              delete row.file;
              row.error = `pad: ${(e as Error).message.replace(/\s+/g, ' ').slice(0, 120)}`;
              return { row, made: false, reused: false };
            }
          }
          row.file = `images/${key}.jpg`;
          await store.linkTo(key, 'jpg', join(ctx.out, row.file));
          return { row, made, reused: !made, source };
        });
      } catch (crash) {
        return { crash };
      }
    };

    // Results are written in input order: a window of promises, each already running.
    const window: Array<Promise<Done>> = [];
    const maxWindow = concurrency * 4;
    const writer = new JsonlWriter(join(ctx.out, 'manifest.jsonl'));
    const pairs: Array<[string, string]> = [];
    let made = 0;
    let reused = 0;
    let failed = 0;
    const settle = async (done: Done): Promise<void> => {
      if ('crash' in done) throw done.crash;
      await writer.write(done.row);
      if (done.made) made++;
      if (done.reused) reused++;
      const isError = done.row.error !== undefined;
      if (isError) failed++;
      if (done.source && done.row.file && pairs.length < p.preview_images)
        pairs.push([done.source, join(ctx.out, done.row.file)]);
      meter.add(1, isError ? 1 : 0);
    };
    for await (const entry of readJsonl<ManifestEntry>(manifestPath)) {
      if (ctx.signal.aborted) break;
      window.push(padOne(entry));
      while (window.length > maxWindow) await settle(await (window.shift() as Promise<Done>));
    }
    while (window.length) await settle(await (window.shift() as Promise<Done>));
    await writer.close();
    if (ctx.signal.aborted) throw new Error('pad aborted');

    if (pairs.length) await writePreviewGrid(sharp, pairs, join(ctx.out, 'preview.jpg'));
    const seconds = (Date.now() - started) / 1000;
    ctx.log(`${meter.line()}; padded ${made}, reused ${reused} from earlier runs, concurrency ${concurrency}`);
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
  },
});
