/**
 * split: sets that partition the usable images, failed images kept apart for scoring (and in test), the
 * label space from min_label_count, stratification balance measured against a random split,
 * folds, the top-k baseline checked against a dense micro-F1, determinism from the seed.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readJsonlAll, writeJsonl } from '../src/formats/jsonl.js';
import type { ImageSet, ManifestEntry } from '../src/formats/manifest.js';
import { microF1 } from '../src/ml/metrics.js';
import { mulberry32, shuffleInPlace } from '../src/random.js';
import { LabelRows } from '../src/data/label-rows.js';
import { iterativeStratification } from '../src/data/stratify.js';
import { runStage } from './helpers/stage-harness.js';

const SPLIT = 'stages/split.ts';
const LABELS = 40;

/** Long-tailed random labels: label i present with probability 0.45 / (i + 1)^0.8. */
function makeRows(set: ImageSet, n: number, seed: number, failEvery = 0): ManifestEntry[] {
  const rand = mulberry32(seed);
  return Array.from({ length: n }, (_, i) => {
    const row: ManifestEntry = { imageId: String(i + 1), set };
    if (set !== 'test') {
      const labels: string[] = [];
      for (let l = 0; l < LABELS; l++) if (rand() < 0.45 / Math.pow(l + 1, 0.8)) labels.push(String(l + 1));
      row.labels = labels;
    }
    if (failEvery && i % failEvery === failEvery - 1) row.error = 'http 404';
    else row.file = `images/${set}-${i}.jpg`;
    return row;
  });
}

type Counts = Map<string, number>;
function labelCounts(rows: ManifestEntry[]): Counts {
  const c: Counts = new Map();
  for (const r of rows) for (const l of r.labels ?? []) c.set(l, (c.get(l) ?? 0) + 1);
  return c;
}

async function failedOf(out: string, set: 'validation' | 'holdout'): Promise<ManifestEntry[]> {
  return readJsonlAll<ManifestEntry>(join(out, `${set}-failed.jsonl`));
}

async function readSplit(out: string): Promise<Record<'train' | 'validation' | 'holdout' | 'test', ManifestEntry[]>> {
  return {
    train: await readJsonlAll<ManifestEntry>(join(out, 'train.jsonl')),
    validation: await readJsonlAll<ManifestEntry>(join(out, 'validation.jsonl')),
    holdout: await readJsonlAll<ManifestEntry>(join(out, 'holdout.jsonl')),
    test: await readJsonlAll<ManifestEntry>(join(out, 'test.jsonl')),
  };
}

let up: string;
let input: ManifestEntry[];

before(async () => {
  up = await mkdtemp(join(tmpdir(), 'tailor-split-'));
  input = [...makeRows('train', 1500, 1, 50), ...makeRows('validation', 800, 2, 40), ...makeRows('test', 120, 3, 30)];
  await writeJsonl(join(up, 'manifest.jsonl'), input);
});

describe('split stage', () => {
  let out: string;
  let metrics: Record<string, unknown>;
  let sets: Awaited<ReturnType<typeof readSplit>>;

  before(async () => {
    const run = await runStage(SPLIT, { min_label_count: 25, holdout_share: 0.5, seed: 7 }, { needs: { pad: up } });
    out = run.out;
    metrics = run.metrics;
    sets = await readSplit(out);
  });

  it('partitions the usable images; failed ones leave train/validation but stay in test', () => {
    const usable = (s: ImageSet): ManifestEntry[] => input.filter((r) => r.set === s && !r.error);
    assert.deepEqual(sets.train, usable('train'), 'train lines unchanged and in order');
    const valIds = [...sets.validation, ...sets.holdout].map((r) => r.imageId).sort();
    assert.deepEqual(
      valIds,
      usable('validation')
        .map((r) => r.imageId)
        .sort(),
    );
    assert.equal(new Set(valIds).size, valIds.length, 'validation and holdout disjoint');
    assert.deepEqual(
      sets.test,
      input.filter((r) => r.set === 'test'),
      'test keeps every image, errors included',
    );
    assert.ok(sets.test.some((r) => r.error));
    assert.ok(Math.abs(sets.holdout.length - sets.validation.length) <= 10, 'holdout is about half of validation');
  });

  it('keeps failed validation images, with their labels, in validation-failed/holdout-failed for scoring', async () => {
    const failed = [...(await failedOf(out, 'validation')), ...(await failedOf(out, 'holdout'))];
    const expected = input.filter((r) => r.set === 'validation' && r.error);
    assert.ok(expected.length > 0);
    assert.deepEqual(failed.map((r) => r.imageId).sort(), expected.map((r) => r.imageId).sort());
    assert.ok(failed.every((r) => r.error !== undefined && Array.isArray(r.labels)));
    const m = metrics.images as { validation_failed: number; holdout_failed: number };
    assert.equal(m.validation_failed + m.holdout_failed, expected.length);
  });

  it('keeps the labels with at least min_label_count training images, in numeric order', async () => {
    const counts = labelCounts(sets.train);
    const expected = [...counts.entries()]
      .filter(([, n]) => n >= 25)
      .map(([l]) => l)
      .sort((a, b) => Number(a) - Number(b));
    assert.deepEqual(JSON.parse(await readFile(join(out, 'labels.json'), 'utf8')), expected);
    assert.ok(expected.length < counts.size, 'some labels dropped');
    const table = (await readFile(join(out, 'label-frequency.csv'), 'utf8')).trim().split('\n');
    assert.equal(table[0], 'labelId,labelName,train,validation,holdout,trainShare,validationShare,kept');
    assert.equal(
      table.length - 1,
      counts.size + [...labelCounts([...sets.validation, ...sets.holdout]).keys()].filter((l) => !counts.has(l)).length,
    );
    assert.ok((await readFile(join(out, 'label-distribution.svg'), 'utf8')).startsWith('<svg'));
    assert.ok(!existsSync(join(out, 'label-distribution.png')), 'no font-dependent raster copy');
  });

  it('balances every kept label between validation and holdout far better than a random split', async () => {
    const kept = JSON.parse(await readFile(join(out, 'labels.json'), 'utf8')) as string[];
    const pool = [...sets.validation, ...sets.holdout];
    const total = labelCounts(pool);
    const hold = labelCounts(sets.holdout);
    let stratified = 0;
    for (const l of kept) {
      const dev = Math.abs((hold.get(l) ?? 0) - (total.get(l) ?? 0) / 2);
      assert.ok(dev <= 2, `label ${l}: holdout ${hold.get(l)} of ${total.get(l)}`);
      stratified += dev;
    }
    // The same pool split at random (averaged over seeds) deviates much more.
    let random = 0;
    for (let s = 0; s < 5; s++) {
      const shuffled = shuffleInPlace([...pool], mulberry32(100 + s));
      const half = labelCounts(shuffled.slice(0, Math.round(pool.length / 2)));
      for (const l of kept) random += Math.abs((half.get(l) ?? 0) - (total.get(l) ?? 0) / 2) / 5;
    }
    assert.ok(stratified * 3 < random, `stratified deviation ${stratified} vs random ${random.toFixed(1)}`);
  });

  it('reports the best constant top-k baseline, equal to a dense micro-F1', async () => {
    const b = metrics.baseline as { k: number; holdout_micro_f1: number; validation_micro_f1: number };
    assert.ok(b.k >= 1);
    const trainCounts = labelCounts(sets.train);
    const kept = new Set(JSON.parse(await readFile(join(out, 'labels.json'), 'utf8')) as string[]);
    const ranked = [...trainCounts.entries()]
      .filter(([l]) => kept.has(l))
      .sort((a, b2) => b2[1] - a[1] || (a[0] < b2[0] ? -1 : 1))
      .map(([l]) => l);
    const dense = (rows: ManifestEntry[], k: number): number => {
      const all = [...new Set([...ranked, ...rows.flatMap((r) => r.labels ?? [])])];
      const col = new Map(all.map((l, i) => [l, i]));
      const truth = new Uint8Array(rows.length * all.length);
      const pred = new Uint8Array(rows.length * all.length);
      rows.forEach((r, i) => {
        for (const l of r.labels ?? []) truth[i * all.length + (col.get(l) as number)] = 1;
        for (const l of ranked.slice(0, k)) pred[i * all.length + (col.get(l) as number)] = 1;
      });
      return microF1(truth, pred, rows.length, all.length);
    };
    // The baseline answers failed images too (it never looks at an image).
    const holdout = [...sets.holdout, ...(await failedOf(out, 'holdout'))];
    const validation = [...sets.validation, ...(await failedOf(out, 'validation'))];
    assert.ok(Math.abs(dense(holdout, b.k) - b.holdout_micro_f1) < 1e-12);
    assert.ok(Math.abs(dense(validation, b.k) - b.validation_micro_f1) < 1e-12);
    for (const k of [b.k - 1, b.k + 1])
      if (k >= 1) assert.ok(dense(validation, k) <= b.validation_micro_f1 + 1e-12, `k=${k} not better on validation`);
  });

  it('is deterministic from its seed', async () => {
    const same = await runStage(SPLIT, { min_label_count: 25, holdout_share: 0.5, seed: 7 }, { needs: { pad: up } });
    assert.equal(
      await readFile(join(same.out, 'holdout.jsonl'), 'utf8'),
      await readFile(join(out, 'holdout.jsonl'), 'utf8'),
    );
    const other = await runStage(SPLIT, { min_label_count: 25, holdout_share: 0.5, seed: 8 }, { needs: { pad: up } });
    assert.notEqual(
      await readFile(join(other.out, 'holdout.jsonl'), 'utf8'),
      await readFile(join(out, 'holdout.jsonl'), 'utf8'),
    );
  });
});

describe('split options', () => {
  it('writes stratified folds that partition train', async () => {
    const run = await runStage(SPLIT, { min_label_count: 25, folds: 4 }, { needs: { pad: up } });
    const train = await readJsonlAll<ManifestEntry>(join(run.out, 'train.jsonl'));
    const folds = await Promise.all(
      [0, 1, 2, 3].map((f) => readJsonlAll<ManifestEntry>(join(run.out, 'folds', `fold-${f}.jsonl`))),
    );
    assert.deepEqual(
      folds
        .flat()
        .map((r) => r.imageId)
        .sort(),
      train.map((r) => r.imageId).sort(),
    );
    for (const f of folds) assert.ok(Math.abs(f.length - train.length / 4) <= 6, `fold size ${f.length}`);
    const total = labelCounts(train);
    for (const f of folds) {
      const c = labelCounts(f);
      for (const [l, n] of total)
        if (n >= 25) assert.ok(Math.abs((c.get(l) ?? 0) - n / 4) <= 2, `label ${l} in a fold: ${c.get(l)} of ${n}`);
    }
  });

  it('carves validation and holdout out of train when the input has none', async () => {
    const only = await mkdtemp(join(tmpdir(), 'tailor-split-train-'));
    await writeJsonl(join(only, 'manifest.jsonl'), makeRows('train', 1000, 5));
    const run = await runStage(
      SPLIT,
      { min_label_count: 20, validation_share: 0.2, holdout_share: 0.25 },
      { needs: { fetch: only } },
    );
    const s = await readSplit(run.out);
    assert.equal(s.train.length + s.validation.length + s.holdout.length, 1000);
    assert.ok(
      Math.abs(s.validation.length - 150) <= 5 && Math.abs(s.holdout.length - 50) <= 5,
      `${s.validation.length}/${s.holdout.length}`,
    );
  });

  it('refuses folds: 1 and an empty label space', async () => {
    await assert.rejects(runStage(SPLIT, { folds: 1 }, { needs: { pad: up } }), /folds must be 0/);
    await assert.rejects(runStage(SPLIT, { min_label_count: 100000 }, { needs: { pad: up } }), /lower min_label_count/);
  });
});

describe('iterative stratification', () => {
  it('splits each label as evenly as its count allows, rare labels first', () => {
    const rows = new LabelRows();
    // Label 0 on two examples, label 1 on six, label 2 on all; two examples without labels.
    const sets = [[0, 1, 2], [0, 2], [1, 2], [1, 2], [1, 2], [1, 2], [1, 2], [2], [], []];
    for (const r of sets) rows.push(r);
    const a = iterativeStratification(rows, 3, [1, 1], mulberry32(3));
    const count = (label: number, subset: number): number =>
      sets.filter((r, i) => r.includes(label) && a[i] === subset).length;
    assert.deepEqual([count(0, 0), count(0, 1)], [1, 1]);
    assert.deepEqual([count(1, 0), count(1, 1)], [3, 3]);
    assert.equal(count(2, 0), 4);
    assert.equal([...a].filter((s) => s === 0).length, 5, 'halves of equal size');
  });

  it('never assigns to a subset of ratio 0 and ignores masked labels', () => {
    const rows = new LabelRows();
    for (let i = 0; i < 20; i++) rows.push([i % 3]);
    const a = iterativeStratification(rows, 3, [0, 1, 1], mulberry32(1), new Uint8Array([1, 1, 0]));
    assert.ok([...a].every((s) => s === 1 || s === 2));
  });
});
