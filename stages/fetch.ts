/**
 * fetch — download and validate every image listed in iMaterialist JSON files.
 *
 * Inputs: `train`, `validation`, `test` (paths to iMaterialist files, each optional). A relative
 * path is read from the upstream stage's output folder (`needs: [mosaic]`, `train: train.json`),
 * or from the one named by `from` when there are several, or from the working folder when the
 * stage has no upstream stage. URLs may be http(s), `file:///abs` or `file:rel` (relative to the
 * JSON file's folder).
 *
 * Outputs: `manifest.jsonl` (one line per image of every file, in file order: `file` for a usable
 * image, `error` otherwise), `images/<sha256>.<ext>` (hard links into the state folder),
 * `failures.csv` (`imageId,url,reason`), metrics with counts per failure reason. The stage fails
 * only when the failure share is above `max_failure_share` (after writing the report).
 *
 * Incremental per item: every source's outcome is committed to `index.sqlite` in `ctx.state` as
 * soon as it is known, images stored by content hash, so a rerun (after a kill, or with new URLs)
 * fetches only sources it has no answer for (and, by default, earlier transient failures).
 * Memory stays flat: the JSON is streamed three times (count + spill labels to SQLite, fetch,
 * write the manifest) and never held.
 */
import { mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { setMaxListeners } from 'node:events';
import { dirname, join } from 'node:path';
import { defineStage } from '../src/stage-api.js';
import { JsonlWriter } from '../src/formats/jsonl.js';
import type { ImageSet, ManifestEntry } from '../src/formats/manifest.js';
import { hashSeed, mulberry32 } from '../src/random.js';
import { AnnotationSpill } from '../src/data/annotation-spill.js';
import { csvLine, LineWriter } from '../src/data/csv.js';
import { FetchIndex, type IndexEntry } from '../src/data/fetch-index.js';
import { fetchSource, sourceKey, type FetchOptions } from '../src/data/fetch-source.js';
import { createAgents, destroyAgents } from '../src/data/http-get.js';
import { readImages, readImaterialist } from '../src/data/imaterialist-read.js';
import { inputBase, resolveInput } from '../src/data/input-paths.js';
import { ObjectStore } from '../src/data/object-store.js';
import { ProgressMeter } from '../src/data/progress-meter.js';
import { TaskPool } from '../src/data/task-pool.js';
import { parseImageUrl } from '../src/data/url-source.js';

interface FetchParams {
  train?: string;
  validation?: string;
  test?: string;
  from?: string;
  concurrency: number;
  timeout_ms: number;
  retries: number;
  backoff_ms: number;
  max_backoff_ms: number;
  max_failure_share: number;
  max_bytes: number;
  max_redirects: number;
  max_pixels: number;
  min_side: number;
  refetch_failed: 'none' | 'transient' | 'all';
}

const SETS: ImageSet[] = ['train', 'validation', 'test'];

export default defineStage<FetchParams>({
  description: 'Download and validate the images of iMaterialist JSON files (item-level incremental)',
  deterministic: false,
  params: {
    type: 'object',
    additionalProperties: false,
    properties: {
      train: { type: 'string', minLength: 1, description: 'iMaterialist JSON of the training set' },
      validation: { type: 'string', minLength: 1, description: 'iMaterialist JSON of the validation set' },
      test: { type: 'string', minLength: 1, description: 'iMaterialist JSON of the test set (no annotations)' },
      from: { type: 'string', minLength: 1, description: 'upstream stage whose output folder holds the JSON files' },
      concurrency: { type: 'integer', minimum: 1, maximum: 1024, default: 16 },
      timeout_ms: { type: 'integer', minimum: 1, default: 30000, description: 'per attempt, redirects included' },
      retries: { type: 'integer', minimum: 0, maximum: 20, default: 3 },
      backoff_ms: {
        type: 'integer',
        minimum: 0,
        default: 500,
        description: 'first retry delay (doubles each retry, jittered)',
      },
      max_backoff_ms: { type: 'integer', minimum: 0, default: 10000 },
      max_failure_share: { type: 'number', minimum: 0, maximum: 1, default: 0.1 },
      max_bytes: { type: 'integer', minimum: 1, default: 20971520 },
      max_redirects: { type: 'integer', minimum: 0, maximum: 50, default: 5 },
      max_pixels: {
        type: 'integer',
        minimum: 1,
        default: 40000000,
        description: 'larger images are refused before decoding',
      },
      min_side: { type: 'integer', minimum: 1, default: 10, description: 'smaller images (placeholders) are failures' },
      refetch_failed: {
        enum: ['none', 'transient', 'all'],
        default: 'transient',
        description: 'which failures of earlier runs to try again',
      },
    },
  },
  async run(ctx) {
    const p = ctx.params;
    const base = inputBase(ctx, p.from);
    if (!base.ok) throw new Error(base.error);
    const files = SETS.flatMap((set) => {
      const rel = p[set];
      return rel === undefined ? [] : [{ set, path: resolveInput(base.value, rel) }];
    });
    if (files.length === 0) throw new Error('give at least one of the params train, validation, test');
    for (const f of files) if (!existsSync(f.path)) throw new Error(`${f.set}: file not found: ${f.path}`);

    const started = Date.now();
    const store = await ObjectStore.open(ctx.state);
    const index = new FetchIndex(ctx.state);
    const spill = new AnnotationSpill(ctx.state);
    const agents = createAgents(p.concurrency);
    try {
      // Pass 1: count images, spill labels (annotations may come before or after images).
      const perSet: Partial<Record<ImageSet, number>> = {};
      for (const f of files) {
        let n = 0;
        for await (const rec of readImaterialist(f.path, { images: true, annotations: f.set !== 'test' })) {
          if (ctx.signal.aborted) throw new Error('fetch aborted');
          if (rec.kind === 'image') n++;
          else spill.add(f.set, rec.imageId, rec.labels);
        }
        perSet[f.set] = n;
      }
      spill.seal();
      const total = Object.values(perSet).reduce((a, b) => a + b, 0);
      ctx.log(`${total} images listed (${files.map((f) => `${f.set} ${perSet[f.set]}`).join(', ')})`);

      // Pass 2: fetch every source the index has no usable answer for.
      const run = Date.now();
      // Every request in flight listens for the abort: one inner signal with no listener cap
      // (ctx.signal itself gets a single listener).
      const inner = new AbortController();
      setMaxListeners(0, inner.signal);
      const requestSignal = inner.signal;
      const forward = (): void => inner.abort();
      ctx.signal.addEventListener('abort', forward, { once: true });
      if (ctx.signal.aborted) forward();
      const reusable = (e: IndexEntry): boolean => {
        if (e.ok) return store.has(e.hash, e.ext);
        if (e.run === run || p.refetch_failed === 'none') return true;
        return p.refetch_failed === 'transient' ? !e.transient : false;
      };
      const opts: FetchOptions = {
        timeoutMs: p.timeout_ms,
        maxBytes: p.max_bytes,
        maxRedirects: p.max_redirects,
        retries: p.retries,
        backoffMs: p.backoff_ms,
        maxBackoffMs: p.max_backoff_ms,
        limits: { maxPixels: p.max_pixels, minSide: p.min_side },
        agents,
        rand: mulberry32(hashSeed(ctx.seed, 'fetch', 'jitter')),
        signal: requestSignal,
      };
      const meter = new ProgressMeter(ctx, total, 'images');
      const pool = new TaskPool(p.concurrency);
      const inFlight = new Set<string>();
      let fetched = 0;
      let reused = 0;
      let attempts = 0;
      outer: for (const f of files) {
        const jsonDir = dirname(f.path);
        for await (const rec of readImages(f.path)) {
          if (ctx.signal.aborted) break outer;
          const src = parseImageUrl(rec.url, jsonDir);
          const key = await sourceKey(src, rec.url);
          if (inFlight.has(key)) {
            meter.add(1);
            continue;
          }
          const prev = index.get(key);
          if (prev && reusable(prev)) {
            reused++;
            meter.add(1, prev.ok ? 0 : 1);
            continue;
          }
          inFlight.add(key);
          await pool.add(async () => {
            if (ctx.signal.aborted) return; // waited for a slot while the run was stopped
            const out = await fetchSource(src, opts);
            attempts += out.attempts;
            // A failure caused by the abort is no answer about the source: record nothing.
            if (out.ok) {
              const hash = await store.put(out.bytes, out.ext);
              index.put(key, { ok: true, hash, ext: out.ext, run });
            } else if (!ctx.signal.aborted) {
              index.put(key, { ok: false, error: out.reason, transient: out.transient, run });
            }
            inFlight.delete(key);
            fetched++;
            meter.add(1, out.ok ? 0 : 1);
          });
        }
      }
      await pool.drain();
      ctx.signal.removeEventListener('abort', forward);
      if (ctx.signal.aborted) throw new Error('fetch aborted');
      ctx.log(
        `${meter.line()}; fetched ${fetched} sources in ${attempts} attempts, ${reused} images answered from the state index`,
      );

      // Pass 3: the manifest, the failure report and the links to stored images.
      await mkdir(join(ctx.out, 'images'), { recursive: true });
      const manifest = new JsonlWriter(join(ctx.out, 'manifest.jsonl'));
      const failures = new LineWriter(join(ctx.out, 'failures.csv'));
      await failures.write(csvLine(['imageId', 'url', 'reason']));
      const reasons: Record<string, number> = {};
      let ok = 0;
      let failed = 0;
      // Images shared by many entries are linked once; a bounded set keeps memory flat.
      const recentlyLinked = new Set<string>();
      for (const f of files) {
        const jsonDir = dirname(f.path);
        for await (const rec of readImages(f.path)) {
          if (ctx.signal.aborted) throw new Error('fetch aborted');
          const src = parseImageUrl(rec.url, jsonDir);
          const entry = index.get(await sourceKey(src, rec.url));
          const row: ManifestEntry = { imageId: rec.imageId, set: f.set };
          if (f.set !== 'test') row.labels = spill.get(f.set, rec.imageId) ?? [];
          if (entry?.ok) {
            row.file = `images/${entry.hash}.${entry.ext}`;
            if (!recentlyLinked.has(entry.hash)) {
              await store.linkTo(entry.hash, entry.ext, join(ctx.out, row.file));
              recentlyLinked.add(entry.hash);
              if (recentlyLinked.size > 4096) recentlyLinked.delete(recentlyLinked.values().next().value as string);
            }
            ok++;
          } else {
            row.error = entry ? entry.error : 'source changed during the run';
            reasons[row.error] = (reasons[row.error] ?? 0) + 1;
            failed++;
            await failures.write(csvLine([rec.imageId, rec.url, row.error]));
          }
          await manifest.write(row);
        }
      }
      await manifest.close();
      await failures.close();

      const seconds = (Date.now() - started) / 1000;
      const share = total ? failed / total : 0;
      ctx.metrics({
        images: { ...perSet, total },
        ok,
        failed,
        failure_share: share,
        failures_by_reason: reasons,
        fetched,
        reused,
        attempts,
        seconds,
      });
      const top = Object.entries(reasons)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 5)
        .map(([r, n]) => `${r}: ${n}`)
        .join(', ');
      ctx.log(
        `${ok} images usable, ${failed} failed (${(share * 100).toFixed(2)}%)${top ? `: ${top}` : ''}; see failures.csv`,
      );
      if (share > p.max_failure_share) {
        throw new Error(
          `${failed} of ${total} images failed (${(share * 100).toFixed(2)}%), above max_failure_share ${p.max_failure_share}: ${top}`,
        );
      }
    } finally {
      destroyAgents(agents);
      spill.close();
      index.close();
    }
  },
});
