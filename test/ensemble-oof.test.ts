/**
 * ensemble-pso and threshold fitted on out-of-fold predictions over train (`fit_on`), on real
 * prediction files: `both` reports each fit on holdout (rows method@oof beside the validation
 * rows, with bootstrap intervals and a paired verdict) and writes the out-of-fold fit, by the
 * documented rule; `oof` alone works; models without out-of-fold predictions are an error naming
 * the stage, the param and the models.
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
import { writeJsonl } from '../src/formats/jsonl.js';
import { readPredictions, writePredictions } from '../src/formats/predictions.js';
import type { Comparison } from '../src/ml/bootstrap.js';

const TRAIN = 1500;
let data: SyntheticData;
/** The same simulated models on more images of the same distribution: the out-of-fold rows. */
let more: SyntheticData;
let root: string;
let needs: Record<string, string>;

const labelsOf = (truth: Uint8Array, r: number, ids: string[]): string[] =>
  ids.filter((_, l) => truth[r * ids.length + l] === 1);

/** Add an `oof` split to model m's folder: rows 600.. of `more`'s validation, ids o<n>. */
async function addOof(dir: string, m: number): Promise<void> {
  const preds = await readPredictions(dir);
  const L = data.labelIds.length;
  const src = (more.models[m] as SyntheticData['models'][number]).validation;
  const probs = new Float32Array(TRAIN * L);
  const col = preds.labels.map((id) => data.labelIds.indexOf(id));
  for (let r = 0; r < TRAIN; r++) col.forEach((l, c) => (probs[r * L + c] = src[(600 + r) * L + l] as number));
  preds.splits.oof = { ids: Array.from({ length: TRAIN }, (_, r) => `o${r}`), probs };
  await writePredictions(dir, preds);
}

before(async () => {
  const spec = { labels: 20, holdout: 600, test: 30, noise: [1.2, 1.8, 2.6], seed: 5 };
  data = makeSynthetic({ ...spec, validation: 600 });
  more = makeSynthetic({ ...spec, validation: 600 + TRAIN });
  root = await mkdtemp(join(tmpdir(), 'tailor-ens-oof-'));
  needs = { split: join(root, 'split') };
  await writeSplitFolder(needs.split as string, data);
  // The split's train images are the out-of-fold rows, with their truth.
  await writeJsonl(
    join(needs.split as string, 'train.jsonl'),
    Array.from({ length: TRAIN }, (_, r) => ({
      imageId: `o${r}`,
      set: 'train',
      labels: labelsOf(more.validation.truth, 600 + r, data.labelIds),
      file: `images/o${r}.jpg`,
    })),
  );
  for (let m = 0; m < 3; m++) {
    const dir = join(root, `m${m}`);
    needs[`train-head@m${m}`] = dir;
    await writeModelFolder(dir, data, m);
    await addOof(dir, m);
  }
});

test.after(() => rm(root, { recursive: true, force: true }));

interface MethodRow {
  kind: string;
  fit: string;
  holdout_micro_f1: number;
  validation_micro_f1: number;
  fit_micro_f1: number;
  holdout_ci: [number, number];
}
test('ensemble-pso fit_on both: rows for each fit with intervals, a paired verdict, the oof fit written', async () => {
  const run = await runStage(
    'stages/ensemble-pso.ts',
    { swarm_size: 6, iterations: 4, fit_on: 'both' },
    { needs, seed: 3 },
  );
  const methods = run.metrics.methods as Record<string, MethodRow>;
  for (const name of ['pso', 'mean', 'harmonic', 'pso@oof', 'mean@oof', 'harmonic@oof', 'train-head@m0@oof']) {
    const row = methods[name];
    assert.ok(row, `row ${name}: ${Object.keys(methods).join(', ')}`);
    assert.equal(row.fit, name.endsWith('@oof') ? 'oof' : 'validation');
    assert.ok(row.holdout_ci[0] <= row.holdout_micro_f1 && row.holdout_micro_f1 <= row.holdout_ci[1], name);
  }
  // On its own fit set the swarm matches or beats the mean it started from.
  assert.ok(methods['pso@oof']!.fit_micro_f1 >= methods['mean@oof']!.fit_micro_f1);
  // The validation column of an oof row is validation scored at the oof fit (validation unseen by it).
  assert.notEqual(methods['pso@oof']!.validation_micro_f1, methods['pso@oof']!.fit_micro_f1);

  const cmps = run.metrics.comparisons as Comparison[];
  const fitCmp = cmps.find((c) => c.a === 'pso@oof' && c.b === 'pso');
  assert.ok(fitCmp, JSON.stringify(cmps));
  assert.ok(fitCmp.lo <= fitCmp.diff && fitCmp.diff <= fitCmp.hi);
  const expected = fitCmp.lo > 0 ? 'pso@oof better' : fitCmp.hi < 0 ? 'pso better' : 'tie';
  assert.equal(fitCmp.verdict, expected);
  assert.ok(
    cmps.some((c) => c.a === 'pso@oof' && c.b === 'mean@oof'),
    'pso vs mean within the written fit',
  );

  // The written fit is the oof one: weights, threshold and the ensemble's oof split.
  assert.equal(run.metrics.fit, 'oof');
  assert.equal(run.metrics.fit_on, 'both');
  assert.deepEqual(run.metrics.oof, { images: TRAIN, failed_images: 0 });
  const weights = JSON.parse(await readFile(join(run.out, 'weights.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(weights.fit, 'oof');
  assert.equal(typeof weights.oof_micro_f1, 'number');
  const thresholdOf = (name: string) => (run.metrics.methods as Record<string, { threshold: number }>)[name]?.threshold;
  assert.equal(run.metrics.threshold, thresholdOf('pso@oof'));
  const out = await readPredictions(run.out);
  assert.equal(out.splits.oof?.ids.length, TRAIN);
  const table = (await readFile(join(run.out, 'methods.csv'), 'utf8')).trim().split('\n');
  assert.match(
    table[0] as string,
    /^method,kind,fit,threshold,fit_micro_f1,validation_micro_f1,holdout_micro_f1,holdout_ci_low,holdout_ci_high,/,
  );
  assert.ok(
    table.some((l) => l.startsWith('pso@oof,ensemble,oof,')),
    table.join('\n'),
  );
  assert.ok(
    table.some((l) => l.startsWith('pso,ensemble,validation,')),
    table.join('\n'),
  );

  // threshold on the ensemble's out-of-fold predictions, both ways.
  const thr = await runStage(
    'stages/threshold.ts',
    { fit_on: 'both' },
    { needs: { split: needs.split as string, 'ensemble-pso': run.out }, seed: 3 },
  );
  const fits = thr.metrics.fits as Record<string, MethodRow & { fit: string }>;
  for (const name of ['fixed 0.5', 'global', 'per-label', 'global@oof', 'per-label@oof']) assert.ok(fits[name], name);
  assert.equal(fits['fixed 0.5']!.fit, 'none');
  assert.equal(thr.metrics.fit, 'oof');
  const tc = thr.metrics.comparisons as Comparison[];
  assert.ok(
    tc.some((c) => c.a === 'per-label@oof' && c.b === 'per-label'),
    JSON.stringify(tc),
  );
  assert.ok(
    tc.some((c) => c.a === 'per-label@oof' && c.b === 'global@oof'),
    JSON.stringify(tc),
  );
  // The written thresholds are the oof per-label ones: the holdout score is that row's.
  assert.equal((thr.metrics.holdout as { micro_f1: number }).micro_f1, fits['per-label@oof']!.holdout_micro_f1);
  const csv = (await readFile(join(thr.out, 'fits.csv'), 'utf8')).trim().split('\n');
  assert.equal(csv[0], 'method,fit,fit_micro_f1,validation_micro_f1,holdout_micro_f1,holdout_ci_low,holdout_ci_high');
  assert.equal(csv.length, 6);
});

test('fit_on oof alone; validation (the default) writes what it wrote before, plus the oof split', async () => {
  const oof = await runStage(
    'stages/ensemble-pso.ts',
    { swarm_size: 4, iterations: 2, fit_on: 'oof' },
    { needs, seed: 3 },
  );
  const names = Object.keys(oof.metrics.methods as object);
  assert.ok(
    names.every((n) => n.endsWith('@oof')),
    names.join(', '),
  );
  const val = await runStage('stages/ensemble-pso.ts', { swarm_size: 4, iterations: 2 }, { needs, seed: 3 });
  const vnames = Object.keys(val.metrics.methods as object);
  assert.ok(
    vnames.every((n) => !n.endsWith('@oof')),
    vnames.join(', '),
  );
  assert.equal(val.metrics.fit, 'validation');
  // Every model has out-of-fold predictions, so the ensemble passes its own on (for threshold).
  assert.equal((await readPredictions(val.out)).splits.oof?.ids.length, TRAIN);
  const thr = await runStage(
    'stages/threshold.ts',
    { fit_on: 'oof' },
    { needs: { split: needs.split as string, m0: needs['train-head@m0'] as string }, seed: 3 },
  );
  assert.deepEqual(Object.keys(thr.metrics.fits as object), ['fixed 0.5', 'global@oof', 'per-label@oof']);
});

test('fit_on oof when a model has no out-of-fold predictions: an error naming the stage, the param and the model', async () => {
  const plain = join(root, 'plain');
  await writeModelFolder(plain, data, 1);
  await assert.rejects(
    runStage(
      'stages/ensemble-pso.ts',
      { swarm_size: 4, iterations: 2, fit_on: 'both' },
      { needs: { ...needs, 'fine-tune-backbone': plain } },
    ),
    /ensemble-pso: param fit_on is "both", but fine-tune-backbone has no out-of-fold predictions .*set oof: true on that train-head stage and folds >= 2 on split/,
  );
  await assert.rejects(
    runStage('stages/threshold.ts', { fit_on: 'oof' }, { needs: { split: needs.split as string, m: plain } }),
    /threshold: param fit_on is "oof", but m has no out-of-fold predictions/,
  );
  // With the default, such a model is combined as before and no oof split is written.
  const run = await runStage(
    'stages/ensemble-pso.ts',
    { swarm_size: 4, iterations: 2 },
    { needs: { ...needs, 'fine-tune-backbone': plain } },
  );
  assert.equal((await readPredictions(run.out)).splits.oof, undefined);
});
