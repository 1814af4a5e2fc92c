/**
 * Features read from shards per batch (feature-shards.ts, feature-split.ts) give what the
 * in-memory reader gives: the same float32 values for any row order across shard boundaries, the
 * same bytes hashed, the same labels — and a head trained on either ends with byte-identical
 * predictions. Truncated shards and row lists of the wrong length are named.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, truncate, writeFile, appendFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FEATURES_FILE,
  ShardWriter,
  readSplit,
  type FeatureDtype,
  type FeatureIndex,
} from '../src/formats/features.js';
import { openSplitFeatures } from '../src/formats/feature-shards.js';
import { openSplit } from '../src/ml/feature-split.js';
import { truthMatrix } from '../src/ml/label-matrix.js';
import { HEAD_PARAMS, type HeadParams } from '../src/ml/head-params.js';
import { trainDenseHead } from '../src/ml/head-training.js';
import { predictHead } from '../src/ml/head-task.js';
import { useBackend } from '../src/ml/backend.js';
import { checkParams } from '../src/run/stage-module.js';
import { hashSeed, mulberry32 } from '../src/random.js';

const DIM = 12;
const LABELS = ['a', 'b', 'c', 'd'];

/** A features folder with `rows` train and 20 validation rows in shards of 7 rows; labels follow the features. */
async function writeFeatures(dtype: FeatureDtype, rows: number): Promise<{ dir: string; index: FeatureIndex }> {
  const dir = await mkdtemp(join(tmpdir(), 'tailor-shards-'));
  const rand = mulberry32(hashSeed(1, dtype));
  const index: FeatureIndex = {
    format: 'tailor-features/1',
    backbone: { name: 'synthetic', id: 'synthetic', inputSize: 0, preprocess: 'none' },
    dim: DIM,
    dtype,
    flip: 'none',
    labels: LABELS,
    splits: {},
  };
  for (const [split, n] of [
    ['train', rows],
    ['validation', 20],
  ] as const) {
    const w = new ShardWriter(dir, split, DIM, dtype, 7);
    const lines: string[] = [];
    for (let r = 0; r < n; r++) {
      const x = Float32Array.from({ length: DIM }, () => rand() * 2 - 1);
      await w.add(x);
      const labels = LABELS.filter((_, l) => x[l]! > 0.2).concat(r % 5 === 0 ? ['dropped'] : []);
      lines.push(JSON.stringify({ imageId: `${split}-${r}`, labels }));
    }
    await w.close();
    await writeFile(join(dir, `rows-${split}.jsonl`), lines.join('\n') + '\n');
    index.splits[split] = {
      rows: w.rows,
      rowsFile: `rows-${split}.jsonl`,
      shards: w.shards,
      missing: 0,
      missingFile: `missing-${split}.jsonl`,
    };
  }
  await writeFile(join(dir, FEATURES_FILE), JSON.stringify(index));
  return { dir, index };
}

for (const dtype of ['float16', 'float32'] as const) {
  test(`${dtype}: shard reads equal the in-memory matrix for shuffled, repeated and ranged rows`, async () => {
    const { dir, index } = await writeFeatures(dtype, 50);
    const mem = (await readSplit(dir, index, 'train'))!;
    const disk = openSplitFeatures(dir, index, 'train')!;
    try {
      assert.equal(disk.rows, 50);
      const rand = mulberry32(7);
      const idx = Int32Array.from({ length: 40 }, () => Math.floor(rand() * 50));
      idx[3] = idx[4]!; // a repeat
      assert.deepEqual(disk.gather(idx), mem.x.gather(idx));
      assert.deepEqual(disk.range(0, 50), mem.x.range(0, 50));
      assert.deepEqual(disk.range(6, 22), mem.x.range(6, 22));
      // Ranges are read shard by shard in one pass (not through gather): ends, empty, one row.
      assert.deepEqual(disk.range(13, 50), mem.x.range(13, 50));
      assert.deepEqual(disk.range(49, 50), mem.x.range(49, 50));
      assert.deepEqual(disk.range(7, 7), new Float32Array(0));
      assert.throws(() => disk.range(40, 51), /rows 40\.\.51 of 50/);
      const h1 = createHash('sha256');
      const h2 = createHash('sha256');
      disk.updateHash(h1);
      mem.x.updateHash(h2);
      assert.equal(h1.digest('hex'), h2.digest('hex'));

      const open = (await openSplit(dir, index, 'train', { keepLabels: false }))!;
      assert.deepEqual(open.ids, mem.ids);
      assert.equal(open.labels, undefined);
      assert.deepEqual(
        open.y,
        truthMatrix(
          mem.labels.map((labels) => ({ labels })),
          LABELS,
        ),
      );
      open.x.close();
    } finally {
      disk.close();
    }
  });
}

test('a head trained from shards ends with the same bytes as one trained in memory', async () => {
  const { dir, index } = await writeFeatures('float16', 90);
  const { tf } = await useBackend('auto');
  const check = checkParams({ type: 'object', properties: HEAD_PARAMS }, { epochs: 3, batch_size: 8, hidden: [8] });
  assert.ok(check.ok);
  const p = check.value as HeadParams;
  const run = async (x: { tr: Parameters<typeof predictHead>[2]; va: Parameters<typeof predictHead>[2] }) => {
    const trY = truthMatrix(
      (await readSplit(dir, index, 'train'))!.labels.map((labels) => ({ labels })),
      LABELS,
    );
    const vaY = truthMatrix(
      (await readSplit(dir, index, 'validation'))!.labels.map((labels) => ({ labels })),
      LABELS,
    );
    const { head } = await trainDenseHead({
      tf,
      p,
      seed: 5,
      train: { x: x.tr, y: trY },
      validation: { x: x.va, y: vaY },
      images: { y: trY, count: x.tr.rows },
      labels: LABELS.length,
      checkpointDir: await mkdtemp(join(tmpdir(), 'tailor-shards-ck-')),
      signal: new AbortController().signal,
      log: () => undefined,
      onEpoch: () => undefined,
    });
    const probs = predictHead(tf, head, x.va);
    head.dispose();
    return Buffer.from(probs.buffer);
  };
  const inMemory = await run({
    tr: (await readSplit(dir, index, 'train'))!.x,
    va: (await readSplit(dir, index, 'validation'))!.x,
  });
  const tr = openSplitFeatures(dir, index, 'train')!;
  const va = openSplitFeatures(dir, index, 'validation')!;
  const fromShards = await run({ tr, va });
  tr.close();
  va.close();
  assert.ok(inMemory.equals(fromShards), 'predictions differ');
});

test('a truncated shard or a row list of the wrong length is an error naming the file', async () => {
  const { dir, index } = await writeFeatures('float16', 20);
  await appendFile(join(dir, 'rows-train.jsonl'), JSON.stringify({ imageId: 'extra', labels: [] }) + '\n');
  await assert.rejects(
    openSplit(dir, index, 'train', { keepLabels: true }),
    /21 rows listed in .*rows-train\.jsonl, expected 20/,
  );
  await truncate(join(dir, 'train-00001.f16'), 10);
  assert.throws(() => openSplitFeatures(dir, index, 'train'), /train-00001\.f16: 10 bytes, expected 168/);
});
