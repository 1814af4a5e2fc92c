/**
 * pad: output geometry and the colour of the padding read back from the pixels, errors passed
 * through, unsafe paths refused, and item-level reuse across runs.
 */
import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { readJsonlAll, writeJsonl } from '../src/formats/jsonl.js';
import type { ManifestEntry } from '../src/formats/manifest.js';
import { runStage } from './helpers/stage-harness.js';
import { solidImage } from './fixtures/data/images.js';

const PAD = 'stages/pad.ts';
let up: string;
let rows: ManifestEntry[];

/** RGB of pixel (x, y) of an image file. */
async function pixel(file: string, x: number, y: number): Promise<[number, number, number]> {
  const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  const o = (y * info.width + x) * info.channels;
  return [data[o] as number, data[o + 1] as number, data[o + 2] as number];
}

const near = (got: number[], want: number[], tol: number): boolean =>
  got.every((v, i) => Math.abs(v - (want[i] as number)) <= tol);

before(async () => {
  up = await mkdtemp(join(tmpdir(), 'tailor-pad-'));
  await mkdir(join(up, 'images'));
  await writeFile(join(up, 'images', 'wide.jpg'), await solidImage(300, 150, [200, 20, 20]));
  await writeFile(join(up, 'images', 'tall.jpg'), await solidImage(100, 200, [20, 20, 200]));
  await writeFile(join(up, 'images', 'square.png'), await solidImage(64, 64, [20, 160, 20], 'png'));
  // A PNG with a transparent half: transparency becomes white.
  const rgba = Buffer.alloc(40 * 40 * 4);
  for (let i = 0; i < 40 * 40; i++) rgba.set(i % 40 < 20 ? [0, 0, 0, 255] : [0, 0, 0, 0], i * 4);
  await writeFile(
    join(up, 'images', 'alpha.png'),
    await sharp(rgba, { raw: { width: 40, height: 40, channels: 4 } })
      .png()
      .toBuffer(),
  );
  rows = [
    { imageId: '1', set: 'train', labels: ['1'], file: 'images/wide.jpg' },
    { imageId: '2', set: 'train', labels: ['2'], file: 'images/tall.jpg' },
    { imageId: '3', set: 'validation', labels: ['1', '2'], file: 'images/square.png' },
    { imageId: '4', set: 'train', labels: [], error: 'http 404' },
    { imageId: '1', set: 'test', file: 'images/alpha.png' },
    { imageId: '2', set: 'test', file: '../outside.jpg' },
  ];
  await writeJsonl(join(up, 'manifest.jsonl'), rows);
});

it('pads to a white square of `size`, keeping the aspect ratio', async () => {
  const run = await runStage(PAD, { size: 64, quality: 90 }, { needs: { fetch: up } });
  const out = await readJsonlAll<ManifestEntry>(join(run.out, 'manifest.jsonl'));
  assert.deepEqual(
    out.map((r) => [r.imageId, r.set, r.labels, r.error]),
    rows.map((r) => [r.imageId, r.set, r.labels, r.file === '../outside.jpg' ? 'bad file path in manifest' : r.error]),
    'same lines in the same order',
  );
  for (const r of out.filter((x) => x.file)) {
    const meta = await sharp(join(run.out, r.file as string)).metadata();
    assert.equal(meta.format, 'jpeg');
    assert.equal(meta.width, 64);
    assert.equal(meta.height, 64);
  }
  const file = (i: number): string => join(run.out, out[i]?.file as string);
  const white = [255, 255, 255];
  // 300x150 -> 64x32 content centred: white bands above and below, red in the middle.
  assert.ok(near(await pixel(file(0), 32, 3), white, 6), 'top band white');
  assert.ok(near(await pixel(file(0), 32, 60), white, 6), 'bottom band white');
  assert.ok(near(await pixel(file(0), 32, 32), [200, 20, 20], 25), 'content red');
  assert.ok(near(await pixel(file(0), 2, 32), [200, 20, 20], 25), 'content spans the full width');
  // 100x200 -> 32x64 content: white bands left and right.
  assert.ok(near(await pixel(file(1), 3, 32), white, 6), 'left band white');
  assert.ok(near(await pixel(file(1), 60, 32), white, 6), 'right band white');
  assert.ok(near(await pixel(file(1), 32, 32), [20, 20, 200], 25), 'content blue');
  assert.ok(near(await pixel(file(1), 32, 2), [20, 20, 200], 25), 'content spans the full height');
  // Square: no padding at all.
  assert.ok(near(await pixel(file(2), 1, 1), [20, 160, 20], 25));
  // Transparent half -> white.
  assert.ok(near(await pixel(file(4), 8, 32), [0, 0, 0], 20), 'opaque half black');
  assert.ok(near(await pixel(file(4), 56, 32), white, 6), 'transparent half white');
  const preview = await sharp(join(run.out, 'preview.jpg')).metadata();
  assert.equal(preview.format, 'jpeg');
  assert.ok((preview.width ?? 0) > 400, 'preview grid written');
});

it('reuses padded images across runs, per item, keyed by input, size and quality', async () => {
  const state = join(up, 'state');
  const first = await runStage(PAD, { size: 48 }, { needs: { fetch: up }, state });
  assert.equal((first.metrics as { padded: number }).padded, 4);
  const second = await runStage(PAD, { size: 48 }, { needs: { fetch: up }, state });
  assert.deepEqual(
    [(second.metrics as { padded: number }).padded, (second.metrics as { reused: number }).reused],
    [0, 4],
  );
  const other = await runStage(PAD, { size: 48, quality: 60 }, { needs: { fetch: up }, state });
  assert.equal((other.metrics as { padded: number }).padded, 4, 'another quality pads again');
  // One new image: only it is padded.
  await writeFile(join(up, 'images', 'new.jpg'), await solidImage(50, 80, [120, 120, 0]));
  await writeJsonl(join(up, 'manifest.jsonl'), [
    ...rows,
    { imageId: '9', set: 'train', labels: ['3'], file: 'images/new.jpg' },
  ]);
  const third = await runStage(PAD, { size: 48 }, { needs: { fetch: up }, state });
  assert.deepEqual(
    [(third.metrics as { padded: number }).padded, (third.metrics as { reused: number }).reused],
    [1, 4],
  );
  const out = await readJsonlAll<ManifestEntry>(join(third.out, 'manifest.jsonl'));
  assert.ok(existsSync(join(third.out, out.at(-1)?.file as string)));
});
