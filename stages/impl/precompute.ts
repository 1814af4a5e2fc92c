/**
 * precompute's run (the definition and params: ../precompute.ts): pass 1 hashes every image and
 * computes the features the cache lacks; pass 2 writes the shards from the cache. Under
 * `shards: N` (the `shard` param) a run takes only its shard's images and records where each of
 * its lines goes, so the assembly (src/ml/feature-assembly.ts) writes the unsharded output.
 */
import { join } from 'node:path';
import type { StageContext } from '../../src/stage-api.js';
import { presentSplits, readLabelList, readSplitLines } from '../../src/formats/manifest.js';
import { JsonlWriter } from '../../src/formats/jsonl.js';
import type { FeatureIndex } from '../../src/formats/features.js';
import { codeScopedDir } from '../../src/stage-kit/state.js';
import { backboneSpec, modelCacheDir, workerCount } from '../../src/ml/backbone-spec.js';
import { describeBackbone } from '../../src/ml/backbones.js';
import { FeatureCache } from '../../src/ml/feature-cache.js';
import { FeatureCacheFiller } from '../../src/ml/feature-cache-filler.js';
import {
  FEATURE_LAYOUT_NOTE,
  scannedRowsFile,
  writeFeatureShards,
  type ScannedRow,
} from '../../src/ml/feature-outputs.js';
import { FeaturePool } from '../../src/ml/feature-pool.js';
import { checkPaddedSize, findImageInputs } from '../../src/ml/image-inputs.js';
import { scanSplitImages } from '../../src/ml/scan-images.js';
import { ShardPart } from '../../src/stage-kit/shard.js';

import type { PrecomputeParams } from '../precompute.js';

export default async function precompute(ctx: StageContext<PrecomputeParams>): Promise<void> {
  const started = Date.now();
  const p = ctx.params;
  const inputs = findImageInputs(ctx.needs, p);
  const { splitDir, imagesDir } = inputs;
  const labels = await readLabelList(splitDir);
  const splits = presentSplits(splitDir);
  const spec = backboneSpec(p, ctx.workdir, ctx.seed);
  const ident = await describeBackbone(spec);
  await checkPaddedSize(inputs, ident);
  const wantMultiscale = p.multiscale && ident.foldable !== false;
  // The cache lives in a folder of this code key (old code's features are dropped, never served).
  const modelKey = `${ident.id}|flip=${p.flip}${wantMultiscale ? '|multiscale' : ''}`;
  // Stored in the precision of the shards (float16 halves the store, same shard bytes).
  const cache = FeatureCache.open(join(await codeScopedDir(ctx, 'features'), 'features.sqlite'), p.dtype);

  // Under `shards: N` this run takes the images whose id hashes to its shard (src/stage-kit/shard.ts).
  const part = await ShardPart.open(ctx.out, p.shard);
  const mine = (imageId: string) => part.mine(imageId);
  let total = 0;
  for (const s of splits) for await (const e of readSplitLines(splitDir, s)) if (mine(String(e.imageId))) total++;
  let workers = 0;
  let multiscale = wantMultiscale; // known once the backbone loads; a fully cached rerun reports what was asked
  let dim = 0;
  const filler = new FeatureCacheFiller({
    cache,
    modelKey,
    batchSize: p.batch_size,
    signal: ctx.signal,
    startPool: async () => {
      workers = workerCount(p, p.backend);
      const pool = await FeaturePool.start({
        backend: p.backend,
        spec,
        cacheDir: await modelCacheDir(ctx),
        flip: p.flip,
        multiscale: wantMultiscale,
        workers,
        signal: ctx.signal,
      });
      workers = pool.workers; // a native backend runs in-process whatever was asked
      const i = pool.info;
      dim = i.dims[0]!;
      multiscale = i.multiscale;
      ctx.log(
        `${ident.name} on ${i.backend} x${Math.max(workers, 1)} ${workers === 0 ? '(in-process)' : 'workers'}${i.reasons.length ? ` (not used: ${i.reasons.join('; ')})` : ''}${i.fromCache ? ', model from cache' : ''}`,
      );
      for (const line of i.logs) ctx.log(line);
      return pool;
    },
    onBatch: (computed) => ctx.progress(computed + filler.reused, total, 'images'),
  });

  try {
    // Pass 1: hash every image, queue the ones without features, remember rows in order.
    try {
      for (const s of splits) {
        const w = new JsonlWriter(scannedRowsFile(ctx.out, s));
        for await (const img of scanSplitImages(splitDir, imagesDir, s, cache, mine)) {
          const row: ScannedRow = { imageId: img.imageId, labels: img.labels, hash: img.hash, error: img.error };
          if (part.sharded) row.rank = img.rank;
          if (img.hash && img.path) await filler.add(img.hash, img.path, img.bytes);
          await w.write(row);
        }
        await w.close();
      }
      await filler.finish();
    } catch (e) {
      await filler.abort();
      throw e;
    }
    ctx.progress(total, total, 'images');

    // Pass 2: shards in split order, from the cache.
    const index: FeatureIndex = {
      format: 'tailor-features/1',
      backbone: { name: p.backbone, id: ident.id, inputSize: ident.inputSize, preprocess: ident.preprocess },
      dim,
      dtype: p.dtype,
      flip: p.flip,
      multiscale,
      labels,
      splits: {},
    };
    const written = await writeFeatureShards(
      ctx.out,
      splits,
      { cache, modelKey, failed: filler.failed },
      index,
      p.shard_rows,
      (split) => (row, file) => part.placed(split, row.imageId, row.rank ?? 0, file),
    );
    await part.note(FEATURE_LAYOUT_NOTE, { shard_rows: p.shard_rows });
    await part.close();
    const seconds = (Date.now() - started) / 1000;
    if (filler.computed === 0) ctx.log(`all ${written.rows} images had cached features; no backbone was loaded`);
    ctx.log(
      `${part.sharded ? `${part.label()}: ` : ''}features: ${written.rows} rows x ${index.dim} (${p.dtype}); computed ${filler.computed}, reused ${filler.reused}, missing ${written.missing} in ${seconds.toFixed(1)} s`,
    );
    ctx.metrics({
      precompute: {
        backbone: ident.id,
        rows: written.rows,
        dim: index.dim,
        computed: filler.computed,
        reused: filler.reused,
        missing: written.missing,
        workers,
        seconds,
        images_per_s: filler.computed > 0 ? filler.computed / seconds : null,
      },
    });
  } finally {
    cache.close();
  }
}
