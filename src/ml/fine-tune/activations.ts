/**
 * fine-tune-backbone's activation cache: the trunk's activation at the cache point (and the
 * pooled stage ends before it) of every image (cached route), or only its pooled features, the
 * head phase's input (images route, which streams the tail's input from the files), and of its mirror when flips augment training,
 * kept per image in ctx.state under the stage's code key, so a rerun with another N or learning
 * rate computes nothing and a code change computes everything again.
 */
import { join } from 'node:path';
import { presentSplits, readSplitLines, type SplitName } from '../../formats/manifest.js';
import { hashSeed } from '../../random.js';
import { codeScopedDir } from '../../stage-kit/state.js';
import type { BackendChoice } from '../backend.js';
import type { BackboneSpec } from '../backbones.js';
import { FeatureCache } from '../feature-cache.js';
import { FeatureCacheFiller } from '../feature-cache-filler.js';
import { FeaturePool } from '../feature-pool.js';
import { scanSplitImages } from '../scan-images.js';
import type { FineTunePlan } from './plan.js';

/** An image with its cached activation. */
export interface CachedImage {
  imageId: string;
  labels: string[];
  hash: string;
  path: string;
}

export interface ActivationCache {
  cache: FeatureCache;
  modelKey: string;
  images: Partial<Record<SplitName, CachedImage[]>>;
  /** Images per split without an activation (failed download, decode). */
  missing: Partial<Record<SplitName, number>>;
  failed: ReadonlyMap<string, string>;
  computed: number;
  reused: number;
  seconds: number;
  /** Training images left out by the cached route's cap. */
  skipped: number;
}

export interface ActivationJob {
  ctx: { state: string; codeKey: string; signal: AbortSignal; log(m: string): void };
  backend: BackendChoice;
  spec: BackboneSpec;
  backboneId: string;
  modelCacheDir: string;
  plan: FineTunePlan;
  flip: 'both' | 'none';
  batchSize: number;
  workers: number;
  splitDir: string;
  imagesDir: string;
  /** Most training images to take (0: all), a seeded sample: the cached route's memory cap. */
  maxTrain: number;
  seed: number;
}

/**
 * The hash below which a training image is in the seeded sample of `max` (Infinity: all are).
 * One pass over the manifest lines (no image is read), one 4-byte hash per line.
 */
async function sampleThreshold(splitDir: string, max: number, seed: number): Promise<number> {
  if (max <= 0 || !presentSplits(splitDir).includes('train')) return Infinity;
  const hashes: number[] = [];
  for await (const e of readSplitLines(splitDir, 'train')) hashes.push(sampleHash(seed, String(e.imageId)));
  if (hashes.length <= max) return Infinity;
  return Uint32Array.from(hashes).sort()[max - 1]!;
}

const sampleHash = (seed: number, imageId: string): number => hashSeed(seed, 'fine-tune sample', imageId) >>> 0;

/** Fill the cache for every image of every split; the cache stays open for reading rows. */
export async function cacheActivations(job: ActivationJob): Promise<ActivationCache> {
  const { ctx, plan } = job;
  const started = Date.now();
  // The images route streams the tail's input from the image files: only the pooled features the
  // head phase trains on are cached (a few KB per image, not the activation map).
  const pooledOnly = plan.route === 'images';
  const modelKey = pooledOnly
    ? `${job.backboneId}|pooled=${[...plan.ends, plan.graph.output].join(',')}|flip=${job.flip}`
    : `${job.backboneId}|act=${plan.cacheAt}|ends=${plan.endsCached.join(',')}|flip=${job.flip}`;
  const cache = FeatureCache.open(join(await codeScopedDir(ctx, 'activations'), 'activations.sqlite'));
  const filler = new FeatureCacheFiller({
    cache,
    modelKey,
    batchSize: job.batchSize,
    signal: ctx.signal,
    startPool: async () => {
      const outputs = pooledOnly
        ? [{ nodes: [...plan.ends, plan.graph.output], pool: true }]
        : [
            { nodes: [plan.cacheAt], pool: false },
            ...(plan.endsCached.length ? [{ nodes: plan.endsCached, pool: true }] : []),
          ];
      const pool = await FeaturePool.start({
        backend: job.backend,
        spec: job.spec,
        cacheDir: job.modelCacheDir,
        outputs,
        flip: job.flip,
        workers: job.workers,
        signal: ctx.signal,
      });
      const engines = job.workers === 0 ? 'in-process engine' : 'worker(s)';
      ctx.log(`caching activations with ${Math.max(1, job.workers)} ${engines}`);
      return pool;
    },
  });
  const images: ActivationCache['images'] = {};
  const missing: ActivationCache['missing'] = {};
  const threshold = await sampleThreshold(job.splitDir, job.maxTrain, job.seed);
  let skipped = 0;
  try {
    for (const s of presentSplits(job.splitDir)) {
      const list: CachedImage[] = [];
      let miss = 0;
      for await (const img of scanSplitImages(job.splitDir, job.imagesDir, s, cache)) {
        if (s === 'train' && sampleHash(job.seed, img.imageId) > threshold) {
          skipped++;
          continue;
        }
        if (!img.hash || !img.path) {
          miss++;
          continue;
        }
        await filler.add(img.hash, img.path, img.bytes);
        list.push({ imageId: img.imageId, labels: img.labels, hash: img.hash, path: img.path });
      }
      images[s] = list;
      missing[s] = miss;
    }
    await filler.finish();
  } catch (e) {
    await filler.abort();
    cache.close();
    throw e;
  }
  // Images whose decode failed in the backbone have no activation: count them as missing.
  for (const s of Object.keys(images) as SplitName[]) {
    const all = images[s] ?? [];
    const kept = all.filter((i) => !filler.failed.has(i.hash));
    missing[s] = (missing[s] ?? 0) + all.length - kept.length;
    images[s] = kept;
  }
  if (skipped)
    ctx.log(
      `the cached route keeps every activation in memory: training on a seeded sample of ${job.maxTrain} of ${job.maxTrain + skipped} images (cached_memory_mb)`,
    );
  const seconds = (Date.now() - started) / 1000;
  ctx.log(`activations: computed ${filler.computed}, reused ${filler.reused} in ${seconds.toFixed(1)} s`);
  return {
    cache,
    modelKey,
    images,
    missing,
    failed: filler.failed,
    computed: filler.computed,
    reused: filler.reused,
    seconds,
    skipped,
  };
}
