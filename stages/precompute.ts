/**
 * precompute: backbone feature vectors for every image of every split, as the reference did to
 * train heads on ten times more data than end-to-end training allowed.
 *
 * Batched decode (sharp, off-thread) overlapped with inference, data-parallel over worker threads,
 * optional horizontal-flip averaging, float16/float32 shards with an index (see
 * src/ml/feature-shards.ts). Item-level incremental: features are kept in ctx.state by image content
 * hash and backbone, so a rerun computes only new images. Memory is flat in the number of images:
 * two streaming passes over the split files, with only the batches in flight held.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { defineStage } from '../src/stage-api.js';
import { JsonlWriter, readJsonl } from '../src/formats/jsonl.js';
import type { SplitName } from '../src/formats/manifest.js';
import { BACKEND_PARAM, type BackendChoice } from '../src/ml/backend.js';
import {
  BACKBONE_PARAMS,
  IMAGE_INPUT_PARAMS,
  MULTISCALE_PARAM,
  backboneSpec,
  modelCacheDir,
  workerCount,
  type BackboneParams,
} from '../src/ml/backbone-params.js';
import type { FeatureIndex, FeatureDtype, SplitShards } from '../src/ml/feature-shards.js';
import { presentSplits, readSplitLines, resolveImageInputs } from '../src/ml/stage-inputs.js';
import { readLabelList } from '../src/ml/label-matrix.js';

interface Params extends BackboneParams {
  backend: BackendChoice;
  flip: 'none' | 'average';
  multiscale: boolean;
  dtype: FeatureDtype;
  shard_rows: number;
  split?: string;
  images?: string;
}

interface Pass1Row {
  imageId: string;
  labels: string[];
  hash?: string;
  error?: string;
}

export default defineStage<Params>({
  description: 'backbone features for every image of every split (binary shards + index), incremental per image',
  deterministic: false,
  params: {
    type: 'object',
    additionalProperties: false,
    properties: {
      ...BACKBONE_PARAMS,
      backend: BACKEND_PARAM,
      flip: {
        type: 'string',
        enum: ['none', 'average'],
        default: 'none',
        description: 'average: mean of the features of the image and its mirror',
      },
      multiscale: MULTISCALE_PARAM,
      dtype: {
        type: 'string',
        enum: ['float16', 'float32'],
        default: 'float16',
        description: 'precision of the stored features',
      },
      shard_rows: { type: 'integer', minimum: 1, default: 8192, description: 'rows per shard file' },
      ...IMAGE_INPUT_PARAMS,
    },
  },
  async run(ctx) {
    const started = Date.now();
    const p = ctx.params;
    const { describeBackbone } = await import('../src/ml/backbones.js');
    const { FeatureStore } = await import('../src/ml/feature-store.js');
    const { FeaturePool } = await import('../src/ml/feature-pool.js');
    const { Extractor } = await import('../src/ml/extractor.js');
    const { scanSplitImages } = await import('../src/ml/scan-images.js');
    const { ShardWriter, FEATURES_FILE } = await import('../src/ml/feature-shards.js');
    const { writeFile } = await import('node:fs/promises');

    const { splitDir, imagesDir } = resolveImageInputs(ctx.needs, p);
    const labels = await readLabelList(splitDir);
    const splits = presentSplits(splitDir);
    const spec = backboneSpec(p, ctx.workdir, ctx.seed);
    const ident = await describeBackbone(spec);
    const wantMultiscale = p.multiscale && ident.foldable !== false;
    const modelKey = `${ident.id}|flip=${p.flip}${wantMultiscale ? '|multiscale-v2' : ''}`;
    await mkdir(ctx.state, { recursive: true });
    const store = FeatureStore.open(join(ctx.state, 'features.sqlite'));

    let total = 0;
    for (const s of splits) for await (const _ of readSplitLines(splitDir, s)) total++;
    let workers = 0;
    let dim = 0;
    // Known once the backbone loads; a fully cached rerun reports what was asked.
    let multiscale = wantMultiscale;
    const extractor = new Extractor({
      store,
      modelKey,
      batchSize: p.batch_size,
      signal: ctx.signal,
      startPool: async () => {
        workers = workerCount(p, p.backend);
        const pool = await FeaturePool.start({
          backend: p.backend,
          spec,
          cacheDir: modelCacheDir(ctx.state),
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
      onBatch: (computed) => ctx.progress(computed + extractor.reused, total, 'images'),
    });

    // Pass 1: hash every image, queue the ones without features, remember rows in order.
    const pass1 = (s: SplitName): string => join(ctx.out, `.pass1-${s}.jsonl`);
    try {
      for (const s of splits) {
        const w = new JsonlWriter(pass1(s));
        for await (const img of scanSplitImages(splitDir, imagesDir, s, store)) {
          const row: Pass1Row = { imageId: img.imageId, labels: img.labels, hash: img.hash, error: img.error };
          if (img.hash && img.path) await extractor.add(img.hash, img.path, img.bytes);
          await w.write(row);
        }
        await w.close();
      }
      await extractor.finish();
    } catch (e) {
      await extractor.abort();
      store.close();
      throw e;
    }
    ctx.progress(total, total, 'images');

    // Pass 2: write shards in split order from the store.
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
    let rowsTotal = 0;
    let missingTotal = 0;
    try {
      for (const s of splits) {
        const meta: SplitShards = {
          rows: 0,
          rowsFile: `rows-${s}.jsonl`,
          shards: [],
          missing: 0,
          missingFile: `missing-${s}.jsonl`,
        };
        const rows = new JsonlWriter(join(ctx.out, meta.rowsFile));
        const missing = new JsonlWriter(join(ctx.out, meta.missingFile));
        let shards: InstanceType<typeof ShardWriter> | undefined;
        for await (const r of readJsonl<Pass1Row>(pass1(s))) {
          const values = r.hash && !extractor.failed.has(r.hash) ? store.get(modelKey, r.hash) : undefined;
          if (!values) {
            meta.missing++;
            await missing.write({
              imageId: r.imageId,
              error: r.error ?? (r.hash && extractor.failed.get(r.hash)) ?? 'no features',
            });
            continue;
          }
          if (dim === 0) dim = values.length;
          shards ??= new ShardWriter(ctx.out, s, dim, p.dtype, p.shard_rows);
          await shards.add(values);
          await rows.write({ imageId: r.imageId, labels: r.labels, hash: r.hash });
        }
        await shards?.close();
        await rows.close();
        await missing.close();
        await rm(pass1(s));
        meta.rows = shards?.rows ?? 0;
        meta.shards = shards?.shards ?? [];
        index.splits[s] = meta;
        rowsTotal += meta.rows;
        missingTotal += meta.missing;
      }
    } finally {
      store.close();
    }
    index.dim = dim;
    await writeFile(join(ctx.out, FEATURES_FILE), JSON.stringify(index, null, 2) + '\n');
    const seconds = (Date.now() - started) / 1000;
    if (extractor.computed === 0) ctx.log(`all ${rowsTotal} images had cached features; no backbone was loaded`);
    ctx.log(
      `features: ${rowsTotal} rows x ${dim} (${p.dtype}); computed ${extractor.computed}, reused ${extractor.reused}, missing ${missingTotal} in ${seconds.toFixed(1)} s`,
    );
    ctx.metrics({
      precompute: {
        backbone: ident.id,
        rows: rowsTotal,
        dim,
        computed: extractor.computed,
        reused: extractor.reused,
        missing: missingTotal,
        workers,
        seconds,
        images_per_s: extractor.computed > 0 ? extractor.computed / seconds : null,
      },
    });
  },
});
