/**
 * mosaic — the embedded demo dataset: iMaterialist-shaped JSON files over pictures composed from
 * real Fashion-MNIST garments (upscaled, tinted, patterned, 1-4 per white canvas), with a
 * long-tailed multi-label annotation and the defects of scraped data (dead and broken URLs,
 * repeated labels).
 *
 * Outputs: `train.json`, `validation.json`, `test.json` (no annotations), `images/<set>/<id>.jpg`,
 * `label-map.csv` (`labelId,taskId,labelName,taskName`), `test-solution.csv` (the hidden test
 * labels in submission format, for scoring a submission), `metrics.json`.
 *
 * URLs are `file:images/<set>/<id>.jpg`: relative to the JSON file's folder, because this folder
 * moves into the cache after the run; `fetch` resolves a relative `file:` URL against the folder of
 * the JSON file that holds it. Image ids restart at 1 in each file, as in the challenge data.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { defineStage } from '../src/stage-api.js';
import { hashSeed, mulberry32 } from '../src/random.js';
import { BROKEN_KINDS, brokenBytes, type BrokenKind } from '../src/data/broken-images.js';
import { loadFmnist, sourcePool, type FmnistClass, type SourceSet } from '../src/data/fmnist.js';
import { ImaterialistWriter } from '../src/data/imaterialist-write.js';
import { LabelCounter } from '../src/data/label-stats.js';
import { buildTaxonomy, labelMapCsv } from '../src/data/mosaic-taxonomy.js';
import { drawScene, sceneLabels } from '../src/data/mosaic-scene.js';
import { renderScene } from '../src/data/mosaic-render.js';
import { TaskPool } from '../src/data/task-pool.js';

interface MosaicParams {
  train_images: number;
  validation_images: number;
  test_images: number;
  min_side: number;
  max_side: number;
  dead_share: number;
  broken_share: number;
  repeat_label_share: number;
  quality: number;
  concurrency: number;
}

const SETS: SourceSet[] = ['train', 'validation', 'test'];

export default defineStage<MosaicParams>({
  description: 'Demo dataset in iMaterialist format from Fashion-MNIST garments (long-tailed multi-label)',
  deterministic: true,
  params: {
    type: 'object',
    additionalProperties: false,
    properties: {
      train_images: { type: 'integer', minimum: 1, default: 2400 },
      validation_images: { type: 'integer', minimum: 1, default: 600 },
      test_images: { type: 'integer', minimum: 1, default: 400 },
      min_side: { type: 'integer', minimum: 112, maximum: 4000, default: 160 },
      max_side: { type: 'integer', minimum: 112, maximum: 4000, default: 400 },
      dead_share: {
        type: 'number',
        minimum: 0,
        maximum: 1,
        default: 0.02,
        description: 'share of URLs pointing to no file',
      },
      broken_share: {
        type: 'number',
        minimum: 0,
        maximum: 1,
        default: 0.03,
        description: 'share of URLs holding a truncated JPEG, an HTML page or a 1x1 placeholder',
      },
      repeat_label_share: {
        type: 'number',
        minimum: 0,
        maximum: 1,
        default: 0.05,
        description: 'share of annotations repeating a label',
      },
      quality: { type: 'integer', minimum: 1, maximum: 100, default: 90 },
      concurrency: { type: 'integer', minimum: 1, maximum: 64, default: 4, description: 'pictures encoded at once' },
    },
  },
  async run(ctx) {
    const p = ctx.params;
    if (p.min_side > p.max_side) throw new Error(`min_side ${p.min_side} is larger than max_side ${p.max_side}`);
    if (p.dead_share + p.broken_share > 1) throw new Error('dead_share + broken_share must not exceed 1');
    const { default: sharp } = await import('sharp');
    const started = Date.now();
    const classes: FmnistClass[] = await loadFmnist(ctx.state);
    ctx.log(
      `loaded Fashion-MNIST: ${classes.reduce((n, c) => n + c.count, 0)} garments in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    const tax = buildTaxonomy();
    await writeFile(join(ctx.out, 'label-map.csv'), labelMapCsv(tax));

    const counts: Record<SourceSet, number> = {
      train: p.train_images,
      validation: p.validation_images,
      test: p.test_images,
    };
    const total = SETS.reduce((n, s) => n + counts[s], 0);
    const pool = new TaskPool(p.concurrency);
    const defects = { dead: 0, truncated: 0, html: 0, placeholder: 0, repeated_label: 0 };
    const stats: Partial<Record<SourceSet, LabelCounter>> = {};
    const solution = createWriteStream(join(ctx.out, 'test-solution.csv'), 'utf8');
    solution.write('image_id,label_id\n');
    let done = 0;

    for (const set of SETS) {
      const dir = join(ctx.out, 'images', set);
      await mkdir(dir, { recursive: true });
      const pools = classes.map((c) => sourcePool(c, set));
      const writer = new ImaterialistWriter(join(ctx.out, `${set}.json`), set !== 'test');
      const counter = new LabelCounter();
      stats[set] = counter;
      for (let i = 1; i <= counts[set]; i++) {
        if (ctx.signal.aborted) throw new Error('aborted');
        const id = String(i);
        const rand = mulberry32(hashSeed(ctx.seed, 'mosaic', set, i));
        const scene = drawScene(rand, { minSide: p.min_side, maxSide: p.max_side, pools });
        const labels = sceneLabels(scene, tax);
        const fate = rand();
        const dead = fate < p.dead_share;
        const broken: BrokenKind | undefined =
          !dead && fate < p.dead_share + p.broken_share
            ? BROKEN_KINDS[Math.floor(rand() * BROKEN_KINDS.length)]
            : undefined;
        const annotated = [...labels];
        if (rand() < p.repeat_label_share) {
          annotated.push(labels[Math.floor(rand() * labels.length)] as string);
          defects.repeated_label++;
        }
        await writer.addImage(id, `file:images/${set}/${id}.jpg`);
        if (set === 'test') {
          if (!solution.write(`${id},${labels.join(' ')}\n`)) await once(solution, 'drain');
        } else {
          await writer.addAnnotation(id, annotated);
          counter.add(labels);
        }
        if (dead) defects.dead++;
        if (broken) defects[broken]++;
        const file = join(dir, `${id}.jpg`);
        await pool.add(async () => {
          if (!dead) {
            const rgb = renderScene(scene, classes);
            const jpeg = await sharp(rgb, { raw: { width: scene.width, height: scene.height, channels: 3 } })
              .jpeg({ quality: p.quality })
              .toBuffer();
            await writeFile(file, broken ? await brokenBytes(broken, jpeg) : jpeg);
          }
          done++;
          if (done % 50 === 0 || done === total) ctx.progress(done, total, 'pictures');
        });
      }
      await pool.drain();
      await writer.close();
    }
    solution.end();
    await once(solution, 'finish');

    const seconds = (Date.now() - started) / 1000;
    ctx.log(`wrote ${total} pictures in ${seconds.toFixed(1)} s (${(total / seconds).toFixed(0)}/s)`);
    ctx.metrics({
      images: counts,
      labels: tax.labels.length,
      defects,
      train: stats.train?.summary(),
      validation: stats.validation?.summary(),
      seconds,
    });
  },
});
