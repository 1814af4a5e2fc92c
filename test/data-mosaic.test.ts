/**
 * mosaic: the demo dataset's promises checked on a small but representative generation — the
 * iMaterialist format, label statistics (label count, long tail, labels per image), the share of
 * dead and broken URLs, colours readable from the pixels, disjoint garment pools, determinism.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { hashSeed, mulberry32 } from '../src/random.js';
import { parseCsv } from '../src/formats/csv.js';
import { FMNIST_CLASSES, sourcePool, type FmnistClass } from '../src/data/fmnist.js';
import { drawScene } from '../src/data/mosaic-scene.js';
import { GARMENT_COLOURS } from '../src/data/garment-colours.js';
import { runStage } from './helpers/stage-harness.js';

const MOSAIC = 'stages/mosaic.ts';
/** One state folder for every run: the packed Fashion-MNIST cache is parsed once, then reused. */
const STATE = join(tmpdir(), `tailor-mosaic-state-${process.pid}`);
after(() => rm(STATE, { recursive: true, force: true }));

interface ImJson {
  images: Array<{ url: string; imageId: string }>;
  annotations?: Array<{ labelId: string[]; imageId: string }>;
}

const readJson = async (file: string): Promise<ImJson> => JSON.parse(await readFile(file, 'utf8')) as ImJson;

describe('mosaic, representative generation', () => {
  let out: string;
  let train: ImJson;
  let labelMap: string[][];

  before(async () => {
    const run = await runStage(
      MOSAIC,
      { train_images: 1200, validation_images: 150, test_images: 150, dead_share: 0.04, broken_share: 0.06 },
      { seed: 11, state: STATE },
    );
    out = run.out;
    train = await readJson(join(out, 'train.json'));
    labelMap = parseCsv(await readFile(join(out, 'label-map.csv'), 'utf8'));
  });

  it('writes iMaterialist files: string ids, relative file: URLs, no annotations in test', async () => {
    assert.equal(train.images.length, 1200);
    assert.equal(train.annotations?.length, 1200);
    assert.deepEqual(train.images[0], { url: 'file:images/train/1.jpg', imageId: '1' });
    for (const a of train.annotations ?? []) {
      assert.equal(typeof a.imageId, 'string');
      assert.ok(a.labelId.every((l) => typeof l === 'string'));
    }
    const test = await readJson(join(out, 'test.json'));
    assert.equal(test.images.length, 150);
    assert.equal('annotations' in test, false);
    assert.equal(
      (await readJson(join(out, 'validation.json'))).images[0]?.imageId,
      '1',
      'ids restart per file, as in the challenge',
    );
    const solution = (await readFile(join(out, 'test-solution.csv'), 'utf8')).trim().split('\n');
    assert.equal(solution[0], 'image_id,label_id');
    assert.equal(solution.length, 151);
  });

  it('has at least 120 labels in at least 4 tasks, in a labelId,taskId,labelName,taskName map', () => {
    assert.deepEqual(labelMap[0], ['labelId', 'taskId', 'labelName', 'taskName']);
    const rows = labelMap.slice(1);
    assert.ok(rows.length >= 120, `${rows.length} labels`);
    assert.equal(new Set(rows.map((r) => r[0])).size, rows.length, 'unique label ids');
    assert.ok(new Set(rows.map((r) => r[3])).size >= 4, 'label groups');
    assert.ok(new Set(rows.filter((r) => r[3] === 'colour').map((r) => r[2])).size >= 10, 'at least 10 colours');
  });

  it('is long-tailed with 4-7 labels per image, and some annotations repeat a label', () => {
    const counts = new Map<string, number>();
    let pairs = 0;
    let repeats = 0;
    for (const a of train.annotations ?? []) {
      const unique = new Set(a.labelId);
      if (unique.size < a.labelId.length) repeats++;
      pairs += unique.size;
      for (const l of unique) counts.set(l, (counts.get(l) ?? 0) + 1);
    }
    const n = train.images.length;
    const mean = pairs / n;
    const top = Math.max(...counts.values());
    const rare = [...counts.values()].filter((c) => c < 0.01 * n).length;
    assert.ok(mean >= 4 && mean <= 7, `labels per image ${mean.toFixed(2)}`);
    assert.ok(top / n >= 0.4, `most common label in ${((100 * top) / n).toFixed(1)}% of images`);
    assert.ok(rare >= 20, `${rare} labels under 1%`);
    assert.ok(repeats > 0, 'repeated labels present');
  });

  it('has dead and broken URLs in about the configured shares', async () => {
    const kinds = { ok: 0, dead: 0, truncated: 0, html: 0, placeholder: 0 };
    for (const img of train.images) {
      const file = join(out, img.url.slice('file:'.length));
      if (!existsSync(file)) {
        kinds.dead++;
        continue;
      }
      const bytes = await readFile(file);
      if (bytes.subarray(0, 15).toString() === '<!DOCTYPE html>') kinds.html++;
      else {
        try {
          const { info } = await sharp(bytes, { failOn: 'truncated' }).raw().toBuffer({ resolveWithObject: true });
          if (info.width === 1 && info.height === 1) kinds.placeholder++;
          else kinds.ok++;
        } catch {
          kinds.truncated++;
        }
      }
    }
    const n = train.images.length;
    assert.ok(kinds.dead / n > 0.02 && kinds.dead / n < 0.07, `dead ${kinds.dead}`);
    const broken = kinds.truncated + kinds.html + kinds.placeholder;
    assert.ok(broken / n > 0.035 && broken / n < 0.09, `broken ${broken}`);
    assert.ok(kinds.truncated > 0 && kinds.html > 0 && kinds.placeholder > 0, JSON.stringify(kinds));
  });

  it('paints the labelled colour: single plain garments read back as their colour', async () => {
    const byId = new Map(
      labelMap.slice(1).map((r) => [r[0] as string, { name: r[2] as string, task: r[3] as string }]),
    );
    let checked = 0;
    let agree = 0;
    for (const a of train.annotations ?? []) {
      const named = a.labelId.map((l) => byId.get(l));
      if (!named.some((x) => x?.name === '1 item') || named.some((x) => x?.task === 'pattern')) continue;
      const colour = named.find((x) => x?.task === 'colour')?.name;
      const file = join(out, 'images', 'train', `${a.imageId}.jpg`);
      let data: Buffer;
      try {
        const res = await sharp(file, { failOn: 'truncated' }).raw().toBuffer({ resolveWithObject: true });
        if (res.info.width < 2) continue;
        data = res.data;
      } catch {
        continue; // dead or broken file
      }
      // Mean of clearly painted pixels, matched to the nearest shaded palette colour.
      const sum: [number, number, number] = [0, 0, 0];
      let k = 0;
      for (let i = 0; i < data.length; i += 3) {
        const [r, g, b] = [data[i] as number, data[i + 1] as number, data[i + 2] as number];
        if (Math.max(255 - r, 255 - g, 255 - b) < 90) continue;
        sum[0] += r;
        sum[1] += g;
        sum[2] += b;
        k++;
      }
      const m = sum.map((s) => s / k);
      let best = '';
      let bestD = Infinity;
      for (const c of GARMENT_COLOURS) {
        const dot = m.reduce((acc, v, i) => acc + v * (c.rgb[i] as number), 0);
        const norm = c.rgb.reduce((acc, v) => acc + v * v, 0);
        const s = Math.min(1, Math.max(0.5, dot / norm));
        const d = m.reduce((acc, v, i) => acc + (v - s * (c.rgb[i] as number)) ** 2, 0);
        if (d < bestD) {
          bestD = d;
          best = c.name;
        }
      }
      checked++;
      if (best === colour) agree++;
      if (checked >= 60) break;
    }
    assert.ok(checked >= 40, `${checked} images checked`);
    assert.ok(agree / checked >= 0.9, `${agree} of ${checked} colours read back`);
  });
});

describe('mosaic, determinism and disjoint sources', () => {
  const small = { train_images: 12, validation_images: 4, test_images: 4 };

  async function digest(dir: string): Promise<string> {
    const h = createHash('sha256');
    const walk = async (d: string): Promise<void> => {
      for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
        const p = join(d, e.name);
        if (e.isDirectory()) await walk(p);
        else if (e.name !== 'metrics.json') h.update(e.name).update(await readFile(p));
      }
    };
    await walk(dir);
    return h.digest('hex');
  }

  it('gives identical bytes for the same seed and different ones for another seed', async () => {
    const a = await runStage(MOSAIC, small, { seed: 5, state: STATE });
    const b = await runStage(MOSAIC, small, { seed: 5, state: STATE });
    const c = await runStage(MOSAIC, small, { seed: 6, state: STATE });
    assert.equal(await digest(a.out), await digest(b.out));
    assert.notEqual(await digest(a.out), await digest(c.out));
  });

  it('draws train, validation and test garments from disjoint Fashion-MNIST ranges', () => {
    const fake: FmnistClass = { count: 7000, pixels: new Uint8Array(0) };
    const ranges = (['train', 'validation', 'test'] as const).map((s) => sourcePool(fake, s));
    assert.deepEqual(ranges, [
      [0, 4900],
      [4900, 5950],
      [5950, 7000],
    ]);
    for (const [set, [lo, hi]] of [
      ['train', ranges[0] as [number, number]],
      ['test', ranges[2] as [number, number]],
    ] as const) {
      const pools = FMNIST_CLASSES.map(() => [lo, hi] as const);
      for (let i = 0; i < 300; i++) {
        for (const g of drawScene(mulberry32(hashSeed(1, set, i)), { minSide: 160, maxSide: 400, pools }).garments) {
          assert.ok(g.source >= lo && g.source < hi, `${set} garment from ${g.source}`);
        }
      }
    }
  });
});
