/**
 * Out-of-fold predictions over train (train-head `oof: true`): each fold model reads only the
 * other folds' rows while it trains and predicts exactly its own fold's rows; train-head writes an
 * `oof` split covering every training image exactly once, scored in metrics.json; asking for it
 * without folds, or without the split among the needs, is an error naming the stage and the param.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStage } from './helpers/stage-harness.js';
import { makeShapesDataset } from './fixtures/ml/shapes-dataset.js';
import { FeatureMatrix } from '../src/formats/features.js';
import type { FeatureRows } from '../src/formats/feature-shards.js';
import { writeJsonl } from '../src/formats/jsonl.js';
import { readSplitEntries } from '../src/formats/manifest.js';
import { readPredictions } from '../src/formats/predictions.js';
import { useBackend } from '../src/ml/backend.js';
import { HEAD_PARAMS, type HeadParams } from '../src/ml/head-params.js';
import { foldsOfRows, outOfFoldPredictions, readFolds } from '../src/ml/out-of-fold.js';
import { mulberry32 } from '../src/random.js';

/** Records every row index read through it, in segments the test closes. */
class SpyRows implements FeatureRows {
  readonly rows: number;
  readonly dim: number;
  /** Per gather call, the rows it read. */
  calls: number[][] = [];
  constructor(private readonly inner: FeatureRows) {
    this.rows = inner.rows;
    this.dim = inner.dim;
  }
  gather(idx: ArrayLike<number>, dst?: Float32Array): Float32Array {
    this.calls.push(Array.from(idx));
    return this.inner.gather(idx, dst);
  }
  range(from: number, to: number): Float32Array {
    return this.gather(Int32Array.from({ length: to - from }, (_, i) => from + i));
  }
  updateHash(h: { update(data: Uint8Array): unknown }): void {
    this.inner.updateHash(h);
  }
}

const defaults = Object.fromEntries(
  Object.entries(HEAD_PARAMS).map(([k, v]) => [k, (v as { default?: unknown }).default]),
) as unknown as HeadParams;

test('each fold model trains on the other folds only and predicts exactly its own fold', async () => {
  const { tf } = await useBackend('auto');
  const n = 45;
  const dim = 6;
  const L = 3;
  const rand = mulberry32(7);
  const x = Float32Array.from({ length: n * dim }, () => rand());
  const y = Uint8Array.from({ length: n * L }, (_, i) =>
    (x[Math.floor(i / L) * dim + (i % L)] as number) > 0.5 ? 1 : 0,
  );
  const spy = new SpyRows(new FeatureMatrix(n, dim, x));
  const folds = Int32Array.from({ length: n }, (_, r) => (r * 7) % 3);
  const segments: number[][][] = [];
  const state = await mkdtemp(join(tmpdir(), 'tailor-oof-unit-'));
  try {
    const vx = Float32Array.from({ length: 12 * dim }, () => rand());
    const res = await outOfFoldPredictions({
      tf,
      p: { ...defaults, epochs: 3, batch_size: 8, hidden: [8] },
      seed: 1,
      train: { x: spy, y },
      validation: { x: new FeatureMatrix(12, dim, vx), y: new Uint8Array(12 * L) },
      labels: L,
      folds,
      k: 3,
      checkpointDir: async (f) => {
        const d = join(state, `fold-${f}`);
        await mkdir(d, { recursive: true });
        return d;
      },
      signal: new AbortController().signal,
      log: (m) => {
        if (/^out-of-fold \d+\/3/.test(m)) segments.push(spy.calls.splice(0));
      },
      onEpoch: () => {},
    });
    assert.equal(segments.length, 3);
    segments.forEach((calls, f) => {
      const own = new Set([...folds.keys()].filter((r) => folds[r] === f));
      // The last read is the prediction of the held-out fold: exactly its rows, in row order.
      const predicted = calls.at(-1) as number[];
      assert.deepEqual(predicted, [...own]);
      const seen = new Set(calls.slice(0, -1).flat());
      for (const r of seen) assert.ok(!own.has(r), `fold ${f}'s model read its own row ${r} while training`);
      assert.equal(seen.size, n - own.size, `fold ${f}'s model read every other row`);
    });
    assert.deepEqual(
      res.folds.map((r) => [r.trained, r.predicted]),
      [0, 1, 2].map((f) => {
        const k = folds.filter((v) => v === f).length;
        return [n - k, k];
      }),
    );
    // Every row predicted (a sigmoid is never exactly 0), each by one model.
    for (let r = 0; r < n; r++) assert.ok(res.probs.subarray(r * L, (r + 1) * L).every((v) => v > 0 && v < 1));
  } finally {
    await rm(state, { recursive: true, force: true });
  }
});

test('foldsOfRows: a training row in no fold is an error', () => {
  const r = foldsOfRows(
    ['a', 'b', 'c'],
    new Map([
      ['a', 0],
      ['b', 1],
    ]),
  );
  assert.ok(!r.ok);
  assert.match(r.error, /1 of 3 training rows are in no fold \(first: "c"\)/);
});

test('train-head oof: out-of-fold predictions over every training image exactly once; errors name the param', async () => {
  const root = await mkdtemp(join(tmpdir(), 'tailor-oof-head-'));
  try {
    const ds = await makeShapesDataset(join(root, 'data'), {
      counts: { train: 60, validation: 20, holdout: 20, test: 4 },
    });
    const pre = await runStage(
      'stages/precompute.ts',
      { backbone: 'tiny', input_size: 32, workers: 0 },
      { needs: { pad: ds.padDir, split: ds.splitDir }, state: join(root, 'pre-state') },
    );
    const params = { epochs: 3, batch_size: 16, hidden: [16], oof: true };

    // No split among the needs, then a split without folds: errors naming train-head and oof.
    await assert.rejects(
      runStage('stages/train-head.ts', params, { needs: { pre: pre.out }, state: join(root, 's0') }),
      /train-head: param oof is true, but no needed stage holds a split .*add the split stage to this stage's needs/,
    );
    await assert.rejects(
      runStage('stages/train-head.ts', params, {
        needs: { pre: pre.out, split: ds.splitDir },
        state: join(root, 's0'),
      }),
      /train-head: param oof is true, but split stage "split" wrote no folds .*set that stage's param folds to 2 or more/,
    );

    // Three folds, written as split writes them.
    const train = (await readSplitEntries(ds.splitDir, 'train')).filter((e) => e.error === undefined);
    await mkdir(join(ds.splitDir, 'folds'));
    for (let f = 0; f < 3; f++)
      await writeJsonl(
        join(ds.splitDir, 'folds', `fold-${f}.jsonl`),
        train.filter((_, i) => i % 3 === f),
      );
    const folds = await readFolds(ds.splitDir);
    assert.ok(folds.ok && folds.value);
    assert.equal(folds.value.k, 3);

    const r = await runStage('stages/train-head.ts', params, {
      needs: { pre: pre.out, split: ds.splitDir },
      state: join(root, 's1'),
      seed: 4,
    });
    const preds = await readPredictions(r.out);
    const oof = preds.splits.oof;
    assert.ok(oof, 'an oof split in predictions.json');
    const featured = (r.metrics.train as { rows: number }).rows;
    assert.equal(oof.ids.length, featured);
    assert.equal(new Set(oof.ids).size, oof.ids.length, 'no training image twice');
    for (const id of oof.ids) assert.ok(folds.value.foldOf.has(id), `${id} is a training image of some fold`);
    assert.equal(oof.probs.length, oof.ids.length * preds.labels.length);
    const m = r.metrics as {
      oof: { micro_f1: number; images: number };
      out_of_fold: { folds: number; split: string; per_fold: Array<{ trained: number; predicted: number }> };
    };
    assert.equal(m.out_of_fold.folds, 3);
    assert.equal(m.out_of_fold.split, 'split');
    assert.equal(
      m.out_of_fold.per_fold.reduce((s, f) => s + f.predicted, 0),
      featured,
    );
    for (const f of m.out_of_fold.per_fold) assert.equal(f.trained + f.predicted, featured);
    assert.ok(m.oof.micro_f1 > 0, JSON.stringify(m.oof));

    // Without oof the same params give no oof split, and the other splits' bytes do not depend on it.
    const plain = await runStage(
      'stages/train-head.ts',
      { ...params, oof: false },
      {
        needs: { pre: pre.out, split: ds.splitDir },
        state: join(root, 's2'),
        seed: 4,
      },
    );
    const pp = await readPredictions(plain.out);
    assert.equal(pp.splits.oof, undefined);
    assert.deepEqual(pp.splits.holdout?.probs, preds.splits.holdout?.probs);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
