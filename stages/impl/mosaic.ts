/** mosaic's run (the definition and params: ../mosaic.ts): JSON and solution written in id order, pictures encoded in parallel. */
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { pMapIterable } from 'p-map';
import type { StageContext } from '../../src/stage-api.js';
import { LABEL_MAP_FILE } from '../../src/formats/label-map.js';
import { codeScopedDir } from '../../src/stage-kit/state.js';
import { loadFmnist, sourcePool, type FmnistClass, type SourceSet } from '../../src/data/fmnist.js';
import { ImaterialistWriter } from '../../src/data/imaterialist-write.js';
import { LabelCounter } from '../../src/data/label-stats.js';
import { planPicture, pictureBytes, type PicturePlan } from '../../src/data/mosaic-picture.js';
import { buildTaxonomy, labelMapCsv } from '../../src/data/mosaic-taxonomy.js';
import type { MosaicParams } from '../mosaic.js';

const SETS: SourceSet[] = ['train', 'validation', 'test'];

export default async function mosaic(ctx: StageContext<MosaicParams>): Promise<void> {
  const p = ctx.params;
  if (p.min_side > p.max_side) throw new Error(`min_side ${p.min_side} is larger than max_side ${p.max_side}`);
  if (p.dead_share + p.broken_share > 1) throw new Error('dead_share + broken_share must not exceed 1');
  const started = Date.now();
  const classes: FmnistClass[] = await loadFmnist(await codeScopedDir(ctx, 'fmnist'));
  ctx.log(
    `loaded Fashion-MNIST: ${classes.reduce((n, c) => n + c.count, 0)} garments in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  const tax = buildTaxonomy();
  await writeFile(join(ctx.out, LABEL_MAP_FILE), labelMapCsv(tax));

  const counts: Record<SourceSet, number> = {
    train: p.train_images,
    validation: p.validation_images,
    test: p.test_images,
  };
  const total = SETS.reduce((n, s) => n + counts[s], 0);
  const shares = { dead: p.dead_share, broken: p.broken_share, repeatLabel: p.repeat_label_share };
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
    // The JSON, the solution and the counts are written in id order as pictures are planned;
    // only the encoding runs in parallel.
    async function* planned(): AsyncGenerator<PicturePlan> {
      for (let i = 1; i <= counts[set]; i++) {
        if (ctx.signal.aborted) throw new Error('aborted');
        const plan = planPicture(ctx.seed, set, i, { minSide: p.min_side, maxSide: p.max_side, pools, tax, shares });
        if (plan.repeated) defects.repeated_label++;
        await writer.addImage(plan.id, `file:images/${set}/${plan.id}.jpg`);
        if (set === 'test') {
          if (!solution.write(`${plan.id},${plan.labels.join(' ')}\n`)) await once(solution, 'drain');
        } else {
          await writer.addAnnotation(plan.id, plan.annotated);
          counter.add(plan.labels);
        }
        if (plan.dead) defects.dead++;
        if (plan.broken) defects[plan.broken]++;
        yield plan;
      }
    }
    const encode = async (plan: PicturePlan): Promise<void> => {
      const bytes = await pictureBytes(plan, classes, p.quality);
      if (bytes) await writeFile(join(dir, `${plan.id}.jpg`), bytes);
      done++;
      if (done % 50 === 0 || done === total) ctx.progress(done, total, 'pictures');
    };
    for await (const _ of pMapIterable(planned(), encode, { concurrency: p.concurrency, preserveOrder: false })) {
      // encoded
    }
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
}
