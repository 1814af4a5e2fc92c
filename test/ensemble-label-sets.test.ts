/**
 * Combining models over different label sets, and choosing a head's label subset: per-label
 * combination among the models covering each label (disjoint sets joined, overlapping ones
 * renormalised), bit-identical to the plain combinations when every model covers every label; the
 * PSO objective's label groups equal a full threshold sweep of the combined matrix; ensemble-pso on
 * real prediction files where one model lacks half the labels; train-head's subset selection.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStage } from './helpers/stage-harness.js';
import {
  makeSynthetic,
  writeModelFolder,
  writeSplitFolder,
  type SyntheticData,
} from './fixtures/ensemble/synthetic.js';
import { readPredictions, writePredictions } from '../src/formats/predictions.js';
import { harmonicMean, normalizeWeights, weightedMean, WeightedF1Objective } from '../src/ml/ensemble.js';
import {
  coverageGroups,
  coveredHarmonic,
  coveredMean,
  coveredWeightedMean,
  groupWeights,
} from '../src/ml/label-coverage.js';
import { chooseLabels, columnCounts, narrowColumns } from '../src/ml/label-subset.js';
import { fitGlobalThreshold } from '../src/ml/thresholds.js';
import { mulberry32 } from '../src/random.js';
import { checkParams } from '../src/stage-loader/params.js';
import trainHead from '../stages/train-head.js';

const cov = (...rows: number[][]): Uint8Array[] => rows.map((r) => Uint8Array.from(r));

test('per-label combination: disjoint sets joined, overlaps renormalised, full coverage as before', () => {
  // 2 images x 3 labels; model 0 covers labels 0 and 1, model 1 covers labels 1 and 2.
  const a = Float32Array.from([0.9, 0.5, 0, 0.2, 0.4, 0]);
  const b = Float32Array.from([0, 0.1, 0.7, 0, 0.8, 0.3]);
  const coverage = cov([1, 1, 0], [0, 1, 1]);
  const g = coverageGroups(coverage, 3);
  assert.equal(g.patterns.length, 3);
  assert.equal(g.full, false);
  const w = [0.75, 0.25];
  const got = coveredWeightedMean([a, b], w, coverage, 3);
  // Label 0: only model 0 (taken as is); label 2: only model 1; label 1: 0.75·a + 0.25·b.
  assert.deepEqual(got, Float32Array.from([0.9, 0.75 * 0.5 + 0.25 * 0.1, 0.7, 0.2, 0.75 * 0.4 + 0.25 * 0.8, 0.3]));
  // Whatever the weights, a label covered by one model is that model's probability, exactly.
  for (const ws of [
    [1, 0],
    [0, 1],
    [0, 0],
  ]) {
    const c = coveredWeightedMean([a, b], ws, coverage, 3);
    assert.equal(c[0], a[0]);
    assert.equal(c[5], b[5]);
  }
  // All-zero weights: equal among the models covering the label.
  assert.deepEqual([...groupWeights([0, 0], Uint8Array.from([1, 1]))], [0, 0]);
  assert.deepEqual([...groupWeights([0, 0, 0], Uint8Array.from([1, 0, 1]))], [0.5, 0, 0.5]);
  assert.deepEqual([...groupWeights([0.125, 0.375, 0.125], Uint8Array.from([0, 1, 1]))], [0, 0.75, 0.25]);
  const mean = coveredMean([a, b], coverage, 3);
  assert.ok(Math.abs((mean[1] as number) - 0.3) < 1e-7);
  assert.equal(mean[0], a[0]);
  const harm = coveredHarmonic([a, b], coverage, 3);
  assert.equal(harm[2], b[2]);
  assert.ok(Math.abs((harm[4] as number) - 2 / (1 / 0.4 + 1 / 0.8)) < 1e-6);

  // Every model on every label: the very same bits as the plain combinations.
  const rand = mulberry32(5);
  const models = [0, 1, 2].map(() => Float32Array.from({ length: 40 * 6 }, () => rand()));
  const full = cov([1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]);
  const wf = normalizeWeights([0.3, 0.5, 0.2]);
  assert.deepEqual(coveredWeightedMean(models, wf, full, 6), weightedMean(models, wf));
  assert.deepEqual(coveredHarmonic(models, full, 6), harmonicMean(models));
  assert.throws(() => coverageGroups(cov([1, 0], [1, 0]), 2), /label column 1 is predicted by no model/);
});

let data: SyntheticData;
before(() => {
  data = makeSynthetic({ labels: 20, validation: 600, holdout: 600, test: 50, noise: [1.0, 1.6, 2.4], seed: 9 });
});

/** Models 1 and 2 on parts of the labels (their other columns 0), model 0 on all. */
function partialModels(split: 'validation' | 'holdout'): { probs: Float32Array[]; coverage: Uint8Array[] } {
  const L = data.labelIds.length;
  const coverage = [
    new Uint8Array(L).fill(1),
    Uint8Array.from({ length: L }, (_, l) => (l < 8 ? 1 : 0)),
    Uint8Array.from({ length: L }, (_, l) => (l >= 5 ? 1 : 0)),
  ];
  const probs = data.models.map((m, j) => m[split].map((v, i) => ((coverage[j] as Uint8Array)[i % L] ? v : 0)));
  return { probs, coverage };
}

test('the PSO objective over label groups equals a full threshold sweep of the per-label combination', () => {
  const L = data.labelIds.length;
  const { probs, coverage } = partialModels('validation');
  const groups = coverageGroups(coverage, L);
  const rand = mulberry32(3);
  for (const [steps, minThreshold] of [
    [100, 0.05],
    [37, 0],
  ] as const) {
    const obj = new WeightedF1Objective(probs, data.validation.truth, {
      steps,
      minThreshold,
      extraFn: 17,
      threads: 4,
      groups: {
        labels: L,
        groupOf: groups.groupOf,
        count: groups.patterns.length,
        weightsOf: (g, w) => groupWeights(w, groups.patterns[g] as Uint8Array),
      },
    });
    assert.equal(obj.threads, 1, 'label groups are counted on one thread');
    for (const raw of [
      [1, 1, 1],
      [1, 0, 0],
      [0, 0, 1],
      [0, 0, 0],
      ...Array.from({ length: 8 }, () => [rand(), rand(), rand()]),
    ]) {
      const w = normalizeWeights(raw);
      const combined = coveredWeightedMean(probs, w, coverage, L);
      const sweep = fitGlobalThreshold(data.validation.truth, combined, 600, L, steps, minThreshold, 17);
      assert.deepEqual(obj.evaluate(w), sweep, `weights ${raw}`);
    }
  }
});

test('ensemble-pso: a model lacking labels is combined, not refused; outputs say which labels each predicts', async () => {
  const root = await mkdtemp(join(tmpdir(), 'tailor-ens-sets-'));
  try {
    const needs: Record<string, string> = { split: join(root, 'split') };
    await writeSplitFolder(needs.split as string, data, 0);
    const L = data.labelIds.length;
    const keep = [() => true, (l: number) => l < 8, (l: number) => l >= 5];
    for (let m = 0; m < 3; m++) {
      const dir = join(root, `m${m}`);
      needs[`train-head@m${m}`] = dir;
      await writeModelFolder(dir, data, m, 0);
      // Drop the columns outside the model's label set from what was written.
      const preds = await readPredictions(dir);
      const cols = preds.labels
        .map((id, c) => [id, c] as const)
        .filter(([id]) => (keep[m] as (l: number) => boolean)(data.labelIds.indexOf(id)));
      const W = preds.labels.length;
      const splits: typeof preds.splits = {};
      for (const [name, sp] of Object.entries(preds.splits) as Array<
        [keyof typeof preds.splits, { ids: string[]; probs: Float32Array }]
      >) {
        const probs = new Float32Array(sp.ids.length * cols.length);
        sp.ids.forEach((_, r) =>
          cols.forEach(([, c], k) => (probs[r * cols.length + k] = sp.probs[r * W + c] as number)),
        );
        splits[name] = { ids: sp.ids, probs };
      }
      await writePredictions(dir, { labels: cols.map(([id]) => id), splits });
    }
    const run = await runStage('stages/ensemble-pso.ts', { swarm_size: 6, iterations: 4 }, { needs, seed: 2 });
    const labels = run.metrics.labels as { predicted: number; of: number; per_model: Record<string, number> };
    assert.deepEqual(labels, {
      predicted: L,
      of: L,
      per_model: { 'train-head@m0': 20, 'train-head@m1': 8, 'train-head@m2': 15 },
    });
    // The written holdout matrix is the per-label combination with the reported weights.
    const out = await readPredictions(run.out);
    assert.deepEqual(out.labels, data.labelIds);
    const weights = JSON.parse(await readFile(join(run.out, 'weights.json'), 'utf8')) as {
      models: Array<{ stage: string; weight: number; labels: number }>;
    };
    assert.deepEqual(
      weights.models.map((m) => m.labels),
      [20, 8, 15],
    );
    const { probs, coverage } = partialModels('holdout');
    const expect = coveredWeightedMean(
      probs,
      weights.models.map((m) => m.weight),
      coverage,
      L,
    );
    assert.deepEqual(out.splits.holdout?.probs, expect);
    assert.equal(out.splits.test?.ids.length, 50);

    // threshold runs on the combined matrix.
    const thr = await runStage(
      'stages/threshold.ts',
      {},
      { needs: { split: needs.split as string, 'ensemble-pso': run.out } },
    );
    assert.ok((thr.metrics.holdout as { micro_f1: number }).micro_f1 > 0);

    // threshold on a single model over 8 labels: thresholds for those 8, the other 12 count as misses.
    const one = await runStage(
      'stages/threshold.ts',
      {},
      { needs: { split: needs.split as string, 'train-head@m1': needs['train-head@m1'] as string } },
    );
    const written = JSON.parse(await readFile(join(one.out, 'thresholds.json'), 'utf8')) as { labels: string[] };
    assert.deepEqual(written.labels, data.labelIds.slice(0, 8));
    assert.ok(
      one.logs.some((l) => /predicts 8 of 20 split labels: the other 12 count as misses/.test(l)),
      one.logs.join('\n'),
    );

    // Without model 0, label 5..7 are shared, 0..4 only model 1's, 8..19 only model 2's: all 20 covered.
    const two = await runStage(
      'stages/ensemble-pso.ts',
      { swarm_size: 4, iterations: 2, models: ['train-head@m1', 'train-head@m2'] },
      { needs, seed: 2 },
    );
    assert.equal((two.metrics.labels as { predicted: number }).predicted, 20);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('train-head label subsets: min_count / max_count inclusive, a list, both; clear errors', () => {
  const all = ['a', 'b', 'c', 'd'];
  // 5 rows x 4 labels.
  const y = Uint8Array.from([1, 1, 0, 0, 1, 1, 0, 0, 1, 0, 1, 0, 1, 0, 0, 0, 1, 1, 1, 1]);
  const counts = columnCounts(y, 5, 4);
  assert.deepEqual([...counts], [5, 3, 2, 1]);
  const pick = (p: Parameters<typeof chooseLabels>[2]) => {
    const r = chooseLabels(all, counts, p);
    return r.ok ? r.value.labels : r.error;
  };
  assert.deepEqual(pick({}), all);
  assert.deepEqual(pick({ min_count: 3 }), ['a', 'b']);
  assert.deepEqual(pick({ max_count: 2 }), ['c', 'd']);
  assert.deepEqual(pick({ min_count: 2, max_count: 3 }), ['b', 'c']);
  assert.deepEqual(pick({ labels: ['d', 'a'] }), ['a', 'd']); // the split's order
  assert.deepEqual(pick({ labels: ['d', 'a'], min_count: 2 }), ['a']);
  assert.match(
    pick({ min_count: 6 }) as string,
    /no label passes min_count 6 \/ max_count - \(training counts range 1\.\.5\)/,
  );
  assert.match(pick({ labels: ['a', 'zz'] }) as string, /1 label id\(s\) not in the split's labels\.json \(zz\)/);
  assert.match(pick({ min_count: 4, max_count: 3 }) as string, /min_count 4 is above max_count 3/);
  const chosen = chooseLabels(all, counts, { labels: ['b', 'd'] });
  assert.ok(chosen.ok);
  assert.deepEqual(chosen.value.counts, [3, 1]);
  // Narrowed in place: the same memory, the kept columns of every row.
  const copy = Uint8Array.from(y);
  const narrow = narrowColumns(copy, 5, 4, chosen.value.columns);
  assert.equal(narrow.buffer, copy.buffer);
  assert.deepEqual([...narrow], [1, 0, 1, 0, 0, 0, 0, 0, 1, 1]);
  assert.equal(narrowColumns(y, 5, 4, Int32Array.from([0, 1, 2, 3])), y);

  // The stage's schema takes the three params and refuses malformed ones.
  const ok = (params: Record<string, unknown>) => checkParams(trainHead.params, params).ok;
  assert.ok(ok({ min_count: 100000 }) && ok({ max_count: 99999 }) && ok({ labels: ['1', '17'], min_count: 2 }));
  assert.ok(!ok({ min_count: -1 }) && !ok({ labels: [] }) && !ok({ labels: ['1', '1'] }) && !ok({ max_count: 1.5 }));
});
