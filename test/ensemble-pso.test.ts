/**
 * ensemble-pso through the stage harness on real prediction files: the PSO ensemble beats the
 * best single model and the plain mean on holdout, runs are deterministic, and every output
 * file is written and consistent.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStage } from './helpers/stage-harness.js';
import {
  makeSynthetic,
  writeModelFolder,
  writeSplitFolder,
  type SyntheticData,
} from './fixtures/ensemble/synthetic.js';
import { readPredictions } from '../src/formats/predictions.js';
import { microF1AtThreshold } from '../src/ml/metrics.js';
import { arithmeticMean, normalizeWeights, weightedMean, WeightedF1Objective } from '../src/ml/ensemble.js';
import { fitGlobalThreshold } from '../src/ml/thresholds.js';
import { psoMaximize } from '../src/ml/pso.js';
import { mulberry32 } from '../src/random.js';

const STAGE = 'stages/ensemble-pso.ts';
let data: SyntheticData;
let needs: Record<string, string>;

before(async () => {
  data = makeSynthetic({
    labels: 30,
    validation: 1500,
    holdout: 1500,
    test: 200,
    noise: [1.0, 1.4, 2.2, 3.5],
    seed: 7,
  });
  const root = await mkdtemp(join(tmpdir(), 'tailor-ens-'));
  needs = { split: join(root, 'split') };
  await writeSplitFolder(needs.split as string, data, 5);
  for (let m = 0; m < data.models.length; m++) {
    needs[`train-head@m${m}`] = join(root, `m${m}`);
    await writeModelFolder(needs[`train-head@m${m}`] as string, data, m, 5);
  }
});

test('PSO ensemble >= best single model and >= mean on holdout, fitted on validation', async () => {
  const run = await runStage(STAGE, { swarm_size: 12, iterations: 15 }, { needs, seed: 3 });
  const methods = run.metrics.methods as Record<
    string,
    { kind: string; holdout_micro_f1: number; validation_micro_f1: number }
  >;
  const singles = Object.entries(methods).filter(([, m]) => m.kind === 'model');
  assert.equal(singles.length, 4);
  const bestSingle = Math.max(...singles.map(([, m]) => m.holdout_micro_f1));
  const pso = methods.pso as { holdout_micro_f1: number; validation_micro_f1: number };
  const mean = methods.mean as { holdout_micro_f1: number; validation_micro_f1: number };
  assert.ok(pso.holdout_micro_f1 >= bestSingle, `pso ${pso.holdout_micro_f1} < best single ${bestSingle}`);
  assert.ok(
    pso.holdout_micro_f1 >= mean.holdout_micro_f1,
    `pso ${pso.holdout_micro_f1} < mean ${mean.holdout_micro_f1}`,
  );
  // On validation the swarm starts at the mean and at each model, so it can only match or beat them.
  for (const [name, m] of Object.entries(methods)) {
    if (name !== 'harmonic')
      assert.ok(pso.validation_micro_f1 >= m.validation_micro_f1, `validation: pso below ${name}`);
  }
  // The noisiest model gets the smallest weight.
  const weights = run.metrics.weights as Record<string, number>;
  const w = [0, 1, 2, 3].map((m) => weights[`train-head@m${m}`] as number);
  assert.ok(Math.abs(w.reduce((a, b) => a + b, 0) - 1) < 1e-5);
  assert.equal(Math.min(...w), w[3]);
  const hold = run.metrics.holdout as { micro_f1: number };
  assert.equal(hold.micro_f1, pso.holdout_micro_f1);
  assert.ok((run.metrics.validation as { micro_f1: number }).micro_f1 > 0);
});

test('outputs: predictions for every split, weights, methods table, convergence picture; deterministic', async () => {
  const a = await runStage(STAGE, { swarm_size: 8, iterations: 6 }, { needs, seed: 11 });
  const b = await runStage(STAGE, { swarm_size: 8, iterations: 6 }, { needs, seed: 11 });
  for (const f of [
    'predictions.json',
    'pred-validation.f32',
    'pred-holdout.f32',
    'pred-test.f32',
    'weights.json',
    'methods.csv',
    'convergence.csv',
    'convergence.svg',
  ]) {
    assert.deepEqual(
      await readFile(join(a.out, f)),
      await readFile(join(b.out, f)),
      `${f} differs between identical runs`,
    );
  }
  const preds = await readPredictions(a.out);
  assert.deepEqual(preds.labels, data.labelIds); // the split's label order, whatever the models used
  assert.equal(preds.splits.validation?.ids.length, 1500);
  assert.equal(preds.splits.test?.ids.length, 195); // failed test images have no predictions
  // The combined probabilities are the weighted mean with the reported weights, so the reported
  // holdout score is reproducible from the files.
  const weights = JSON.parse(await readFile(join(a.out, 'weights.json'), 'utf8')) as {
    models: Array<{ stage: string; weight: number }>;
    threshold: number;
  };
  const holdout = preds.splits.holdout;
  assert.ok(holdout);
  const ids = holdout.ids;
  assert.deepEqual(ids, data.holdout.ids);
  const expect = weightedMean(
    data.models.map((m) => m.holdout),
    weights.models.map((m) => m.weight),
  );
  assert.deepEqual(holdout.probs, expect);
  const f1 = microF1AtThreshold(data.holdout.truth, holdout.probs, ids.length, data.labelIds.length, weights.threshold);
  assert.equal(Math.round(f1 * 1e6) / 1e6, (a.metrics.holdout as { micro_f1: number }).micro_f1);
  const csv = (await readFile(join(a.out, 'methods.csv'), 'utf8')).trim().split('\n');
  assert.equal(
    csv[0],
    'method,kind,fit,threshold,fit_micro_f1,validation_micro_f1,holdout_micro_f1,holdout_ci_low,holdout_ci_high,holdout_example_f1,holdout_micro_f1_at_0_5,labels',
  );
  // Fitted on validation (the default): every row says so, and its fit score is its validation score.
  for (const line of csv.slice(1)) {
    const [, , fit, , fitF1, valF1] = line.split(',');
    assert.equal(fit, 'validation', line);
    assert.equal(fitF1, valF1, line);
  }
  assert.equal(csv.length, 1 + 4 + 3);
  const svg = await readFile(join(a.out, 'convergence.svg'), 'utf8');
  assert.match(svg, /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.equal((svg.match(/<polyline/g) ?? []).length, 4);
  const conv = (await readFile(join(a.out, 'convergence.csv'), 'utf8'))
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => Number(l.split(',')[1]));
  assert.equal(conv.length, 7);
  for (let i = 1; i < conv.length; i++)
    assert.ok((conv[i] as number) >= (conv[i - 1] as number), 'swarm best never decreases');
  assert.ok(a.progress.length >= 6);
  // A different seed may move the swarm but keeps the same method table for single models.
  const c = await runStage(STAGE, { swarm_size: 8, iterations: 6, method: 'mean' }, { needs, seed: 12 });
  assert.equal(
    (c.metrics.holdout as { micro_f1: number }).micro_f1,
    (c.metrics.methods as Record<string, { holdout_micro_f1: number }>).mean?.holdout_micro_f1,
  );
  const meanPreds = await readPredictions(c.out);
  assert.deepEqual(meanPreds.splits.holdout?.probs, arithmeticMean(data.models.map((m) => m.holdout)));
});

test('the fast objective equals a full threshold sweep on the combined matrix, on any number of threads', async () => {
  const L = data.labelIds.length;
  const val = data.models.map((m) => m.validation);
  const rand = mulberry32(17);
  const weightSets = [
    [1, 1, 1, 1],
    [1, 0, 0, 0],
    [0.3, 0.9, 0.1, 0.05],
    [0, 0, 0, 0],
    ...Array.from({ length: 12 }, () => [rand(), rand(), rand(), rand()]),
  ];
  for (const [steps, minThreshold] of [
    [50, 0],
    [100, 0.05],
    [7, 0.3],
    [1000, 0],
  ] as const) {
    const obj = new WeightedF1Objective(val, data.validation.truth, { steps, minThreshold });
    assert.ok(obj.activeEntries < obj.totalEntries, 'some entries are pruned');
    for (const raw of weightSets) {
      const w = normalizeWeights(raw);
      const fast = obj.evaluate(w);
      const full = fitGlobalThreshold(data.validation.truth, weightedMean(val, w), 1500, L, steps, minThreshold);
      assert.equal(fast.f1, full.f1, `steps ${steps}, min ${minThreshold}, weights ${raw}`);
      assert.equal(fast.threshold, full.threshold);
      assert.ok(fast.threshold >= minThreshold);
      assert.equal(fast.f1, microF1AtThreshold(data.validation.truth, weightedMean(val, w), 1500, L, full.threshold));
    }
  }
  // Labels without a column (dropped by split) enter both as a constant count of misses.
  const withMissed = new WeightedF1Objective(val, data.validation.truth, {
    steps: 100,
    minThreshold: 0.05,
    extraFn: 400,
  });
  const w = normalizeWeights([0.2, 0.5, 0.2, 0.1]);
  const full = fitGlobalThreshold(data.validation.truth, weightedMean(val, w), 1500, L, 100, 0.05, 400);
  assert.deepEqual(withMissed.evaluate(w), full);
  assert.ok(
    full.f1 < new WeightedF1Objective(val, data.validation.truth, { steps: 100, minThreshold: 0.05 }).evaluate(w).f1,
  );
  // Helper threads count parts of the same data: the same histograms, whatever their number.
  const single = new WeightedF1Objective(val, data.validation.truth, { steps: 100, threads: 1 });
  const three = new WeightedF1Objective(val, data.validation.truth, { steps: 100, threads: 3, adaptive: false });
  const auto = new WeightedF1Objective(val, data.validation.truth, { steps: 100, threads: 2 });
  try {
    assert.equal(three.threads, 3);
    for (const raw of weightSets) {
      assert.deepEqual(three.evaluate(normalizeWeights(raw)), single.evaluate(normalizeWeights(raw)));
      assert.deepEqual(auto.evaluate(normalizeWeights(raw)), single.evaluate(normalizeWeights(raw)));
    }
    assert.equal(three.helperEvaluations, weightSets.length);
    // The adaptive one tried both ways.
    assert.ok(auto.helperEvaluations >= 1 && auto.helperEvaluations < auto.evaluations);
  } finally {
    await three.close();
    await auto.close();
  }
});

test('PSO finds the maximum of a smooth function and is seeded', async () => {
  const f = (x: Float64Array) => -(((x[0] as number) - 0.3) ** 2) - ((x[1] as number) - 0.7) ** 2;
  const opts = { swarmSize: 15, iterations: 60, inertia: 0.72, cognitive: 1.49, social: 1.49, seed: 5 };
  const r = await psoMaximize(f, 2, opts);
  assert.ok(
    Math.abs((r.best[0] as number) - 0.3) < 1e-3 && Math.abs((r.best[1] as number) - 0.7) < 1e-3,
    `best ${[...r.best]}`,
  );
  assert.equal(r.evaluations, 15 * 61);
  assert.deepEqual((await psoMaximize(f, 2, opts)).best, r.best);
  assert.notDeepEqual(
    (await psoMaximize(f, 2, { ...opts, seed: 6, iterations: 3 })).best,
    (await psoMaximize(f, 2, { ...opts, iterations: 3 })).best,
  );
  const ctrl = new AbortController();
  ctrl.abort();
  await assert.rejects(psoMaximize(f, 2, { ...opts, signal: ctrl.signal }), /aborted/);
  // An abort during the search stops it at the next evaluation.
  const later = new AbortController();
  let calls = 0;
  const slow = (x: Float64Array) => {
    if (++calls === 40) setImmediate(() => later.abort());
    return f(x);
  };
  await assert.rejects(psoMaximize(slow, 2, { ...opts, signal: later.signal }), /aborted/);
  assert.ok(calls < 15 * 5, `stopped after ${calls} evaluations`);
});

test('one model and zero rounds: the ensemble is that model', async () => {
  const run = await runStage(STAGE, { models: ['train-head@m0'], iterations: 0 }, { needs });
  assert.deepEqual(run.metrics.weights, { 'train-head@m0': 1 });
  const methods = run.metrics.methods as Record<string, { holdout_micro_f1: number }>;
  assert.equal(methods.pso?.holdout_micro_f1, methods['train-head@m0']?.holdout_micro_f1);
  const preds = await readPredictions(run.out);
  assert.deepEqual(preds.splits.validation?.probs, data.models[0]?.validation);
});

test('clear errors: no split, unknown model name', async () => {
  const onlyModels = Object.fromEntries(Object.entries(needs).filter(([k]) => k !== 'split'));
  await assert.rejects(runStage(STAGE, {}, { needs: onlyModels }), /no needed stage holds a split/);
  await assert.rejects(runStage(STAGE, { models: ['nope'] }, { needs }), /param models: nope is not a needed stage/);
});
