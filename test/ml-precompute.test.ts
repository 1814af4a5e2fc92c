/**
 * precompute on real JPEGs (the shapes fixture) with the tiny backbone: shards and index, failed
 * images kept as missing, the same features in-process and in worker threads, float16 close to
 * float32, flip averaging, and item-level incrementality (a rerun computes nothing; one new image
 * computes one).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { appendFile, copyFile, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStage } from './helpers/stage-harness.js';
import { makeShapesDataset, type ShapesDataset } from './fixtures/ml/shapes-dataset.js';
import { readFeatureIndex, readSplit } from '../src/formats/features.js';

const STAGE = 'stages/precompute.ts';
const base = { backbone: 'tiny', input_size: 32 };
let ds: ShapesDataset;
let root: string;

test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'tailor-ml-pre-'));
  ds = await makeShapesDataset(join(root, 'data'), { counts: { train: 24, validation: 8, holdout: 8, test: 6 } });
});

const needs = (): Record<string, string> => ({ pad: ds.padDir, split: ds.splitDir });

async function features(dir: string, split: string): Promise<{ ids: string[]; x: Float32Array }> {
  const index = await readFeatureIndex(dir);
  const d = (await readSplit(dir, index, split))!;
  return { ids: d.ids, x: d.x.range(0, d.x.rows) };
}

test('features for every split, failures listed, in-process and workers agree', async () => {
  const state = join(root, 'state-a');
  const r = await runStage(STAGE, { ...base, workers: 0 }, { needs: needs(), state });
  const index = await readFeatureIndex(r.out);
  assert.equal(index.dtype, 'float16');
  assert.equal(index.multiscale, true);
  // tiny: pooled stem (16) joined with the final feature (32)
  assert.equal(index.dim, 48);
  assert.deepEqual(index.labels, ds.labels);
  assert.deepEqual(Object.keys(index.splits), ['train', 'validation', 'holdout', 'test']);
  assert.equal(index.splits.train!.rows, 24);
  assert.equal(index.splits.test!.rows, 6);
  // The test split's 404 line and its HTML-as-JPEG file are missing, with reasons.
  assert.equal(index.splits.test!.missing, 2);
  const missing = (await readFile(join(r.out, 'missing-test.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { error: string });
  assert.ok(missing.some((m) => m.error === 'http 404'));
  assert.ok(missing.some((m) => m.error.startsWith('decode:')));
  const rows = (await readFile(join(r.out, 'rows-train.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { labels: string[]; hash: string });
  assert.ok(rows.every((row) => row.labels.length >= 2 && /^[0-9a-f]{64}$/.test(row.hash)));
  const m = r.metrics.precompute as { computed: number; missing: number };
  assert.equal(m.computed, 46); // the undecodable file is not counted: it is missing
  assert.equal(m.missing, 2);

  const w = await runStage(STAGE, { ...base, workers: 1 }, { needs: needs(), state: join(root, 'state-b') });
  const a = await features(r.out, 'validation');
  const b = await features(w.out, 'validation');
  assert.deepEqual(a.ids, b.ids);
  assert.deepEqual(a.x, b.x, 'a worker thread computes the same features');
  assert.ok(a.x.some((v) => v !== 0));
});

test('float32 shards are close to float16 ones; flip averaging changes them', async () => {
  const state = join(root, 'state-c');
  const f32 = await runStage(STAGE, { ...base, workers: 0, dtype: 'float32' }, { needs: needs(), state });
  const f16 = await runStage(STAGE, { ...base, workers: 0 }, { needs: needs(), state });
  assert.equal(
    (f16.metrics.precompute as { computed: number }).computed,
    0,
    'float16 shards are rounded from stored float32 features: reused',
  );
  // Shards from the float32 store hold the same bytes as shards from a float16 store.
  const fresh = await runStage(STAGE, { ...base, workers: 0 }, { needs: needs(), state: join(root, 'state-c16') });
  for (const f of ['train-00000.f16', 'validation-00000.f16'])
    assert.ok(readFileSync(join(f16.out, f)).equals(readFileSync(join(fresh.out, f))), f);
  const again32 = await runStage(
    STAGE,
    { ...base, workers: 0, dtype: 'float32' },
    { needs: needs(), state: join(root, 'state-c16') },
  );
  assert.equal(
    (again32.metrics.precompute as { computed: number }).computed,
    46,
    'a float16 store cannot give float32 features back: they are computed',
  );
  const a = await features(f16.out, 'train');
  const b = await features(f32.out, 'train');
  for (let i = 0; i < a.x.length; i++) assert.ok(Math.abs(a.x[i]! - b.x[i]!) <= 1e-3 * Math.max(1, Math.abs(b.x[i]!)));
  const flipped = await runStage(
    STAGE,
    { ...base, workers: 0, flip: 'average', dtype: 'float32' },
    { needs: needs(), state },
  );
  assert.equal((flipped.metrics.precompute as { computed: number }).computed, 46);
  const c = await features(flipped.out, 'train');
  assert.notDeepEqual(c.x, b.x);
});

test('item-level incremental: a rerun computes nothing, a new image computes one', async () => {
  const state = join(root, 'state-d');
  await runStage(STAGE, { ...base, workers: 0 }, { needs: needs(), state });
  const again = await runStage(STAGE, { ...base, workers: 0 }, { needs: needs(), state });
  const m = again.metrics.precompute as { computed: number; reused: number };
  assert.equal(m.computed, 0);
  assert.equal(m.reused, 46);
  assert.ok(again.logs.some((l) => l.includes('no backbone was loaded')));

  // A new training image (a copy of a test image with another id and file).
  const split = join(root, 'data-more', 'split');
  const { mkdir } = await import('node:fs/promises');
  await mkdir(split, { recursive: true });
  for (const f of ['train.jsonl', 'validation.jsonl', 'holdout.jsonl', 'test.jsonl', 'labels.json'])
    await copyFile(join(ds.splitDir, f), join(split, f));
  const { default: sharp } = await import('sharp');
  await sharp({ create: { width: 48, height: 48, channels: 3, background: '#2ca02c' } })
    .jpeg()
    .toFile(join(ds.padDir, 'images', 'new.jpg'));
  await appendFile(
    join(split, 'train.jsonl'),
    JSON.stringify({ imageId: '9999', set: 'train', labels: ['2'], file: 'images/new.jpg' }) + '\n',
  );
  const more = await runStage(STAGE, { ...base, workers: 0 }, { needs: { pad: ds.padDir, split }, state });
  assert.equal((more.metrics.precompute as { computed: number }).computed, 1);
  assert.equal((await readFeatureIndex(more.out)).splits.train!.rows, 25);
});

test('inputs are found by their files, or named by params when ambiguous', async () => {
  await assert.rejects(
    runStage(STAGE, { ...base, workers: 0 }, { needs: { pad: ds.padDir }, state: join(root, 'state-e') }),
    /no needed stage holds a split/,
  );
  await assert.rejects(
    runStage(STAGE, { ...base, workers: 0, split: 'nope' }, { needs: needs(), state: join(root, 'state-e') }),
    /split: "nope" is not among this stage's needs/,
  );
});
