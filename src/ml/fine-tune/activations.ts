/**
 * fine-tune-backbone's activation cache: the trunk's activation at the cache point (and the
 * pooled stage ends before it) of every image, and of its mirror when flips augment training,
 * kept per image in ctx.state under the stage's code key, so a rerun with another N or learning
 * rate computes nothing and a code change computes everything again.
 */
import { join } from 'node:path';
import { presentSplits, type SplitName } from '../../formats/manifest.js';
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
}

/** Fill the cache for every image of every split; the cache stays open for reading rows. */
export async function cacheActivations(job: ActivationJob): Promise<ActivationCache> {
  const { ctx, plan } = job;
  const started = Date.now();
  const modelKey = `${job.backboneId}|act=${plan.cacheAt}|ends=${plan.endsCached.join(',')}|flip=${job.flip}`;
  const cache = FeatureCache.open(join(await codeScopedDir(ctx, 'activations'), 'activations.sqlite'));
  const filler = new FeatureCacheFiller({
    cache,
    modelKey,
    batchSize: job.batchSize,
    signal: ctx.signal,
    startPool: async () => {
      const outputs = [
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
  try {
    for (const s of presentSplits(job.splitDir)) {
      const list: CachedImage[] = [];
      let miss = 0;
      for await (const img of scanSplitImages(job.splitDir, job.imagesDir, s, cache)) {
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
  };
}
