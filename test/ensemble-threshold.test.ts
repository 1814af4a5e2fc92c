/**
 * threshold through the stage harness on real prediction files: per-label >= global >= fixed 0.5
 * on validation, holdout reported; the ascent is a true local optimum; files are consistent.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStage } from './helpers/stage-harness.js';
import {
  makeSynthetic,
  writeModelFolder,
  writeSplitFolder,
  type SyntheticData,
} from './fixtures/ensemble/synthetic.js';
import { microF1AtThreshold } from '../src/ml/metrics.js';
import { applyThresholds, fitGlobalThreshold, fitThresholds } from '../src/ml/thresholds.js';
import { gridBin } from '../src/ml/score-grid.js';
import type { ThresholdsFile } from '../src/formats/thresholds.js';

const STAGE = 'stages/threshold.ts';
let data: SyntheticData;
let root: string;
let needs: Record<string, string>;

interface Scores {
  micro_f1: number;
  micro_f1_fixed: number;
  micro_f1_global: number;
  micro_f1_per_label: number;
  images: number;
}

before(async () => {
  data = makeSynthetic({ labels: 40, validation: 2000, holdout: 2000, test: 100, noise: [1.2, 2.0], seed: 21 });
  root = await mkdtemp(join(tmpdir(), 'tailor-thr-'));
  needs = { split: join(root, 'split'), 'train-head@a': join(root, 'a') };
  await writeSplitFolder(needs.split as string, data);
  await writeModelFolder(needs['train-head@a'] as string, data, 1); // columns reversed, rows shuffled
});

test('per-label >= best global >= fixed 0.5 on validation; holdout reported and improved', async () => {
  const run = await runStage(STAGE, { min_support: 20 }, { needs });
  const v = run.metrics.validation as Scores;
  const h = run.metrics.holdout as Scores;
  assert.ok(
    v.micro_f1_per_label >= v.micro_f1_global,
    `validation per-label ${v.micro_f1_per_label} < global ${v.micro_f1_global}`,
  );
  assert.ok(
    v.micro_f1_global >= v.micro_f1_fixed,
    `validation global ${v.micro_f1_global} < fixed ${v.micro_f1_fixed}`,
  );
  assert.ok(v.micro_f1_per_label > v.micro_f1_fixed, 'tuning helps on validation');
  assert.equal(v.micro_f1, v.micro_f1_per_label);
  // Fitted on validation, the gains carry over to the holdout on this data.
  assert.ok(
    h.micro_f1_per_label >= h.micro_f1_global,
    `holdout per-label ${h.micro_f1_per_label} < global ${h.micro_f1_global}`,
  );
  assert.ok(h.micro_f1_global >= h.micro_f1_fixed, `holdout global ${h.micro_f1_global} < fixed ${h.micro_f1_fixed}`);
  assert.equal(h.images, 2000);

  const t = JSON.parse(await readFile(join(run.out, 'thresholds.json'), 'utf8')) as ThresholdsFile;
  assert.deepEqual(t.labels, data.labelIds);
  assert.equal(t.mode, 'per-label');
  assert.equal(t.predictions.stage, 'train-head@a');
  assert.match(t.predictions.sha256, /^[0-9a-f]{64}$/);
  assert.equal(run.metrics.global_threshold, t.global);
  // Thresholds applied to the model's own (unscrambled) probabilities reproduce the reported score.
  const probs = data.models[1]?.validation as Float32Array;
  const f1 = microF1AtThreshold(data.validation.truth, probs, 2000, 40, t.thresholds);
  assert.equal(Math.round(f1 * 1e6) / 1e6, v.micro_f1);
  // Rare labels (fewer than 20 validation images) keep the global threshold.
  const csv = (await readFile(join(run.out, 'labels.csv'), 'utf8')).trim().split('\n');
  assert.equal(
    csv[0],
    'label_id,threshold,tuned,validation_support,validation_f1,holdout_support,holdout_f1,holdout_precision,holdout_recall',
  );
  assert.equal(csv.length, 41);
  let rare = 0;
  for (const line of csv.slice(1)) {
    const [id, thr, tuned, support] = line.split(',');
    const l = data.labelIds.indexOf(id as string);
    assert.equal(Number(thr), t.thresholds[l]);
    if (Number(support) < 20) {
      rare++;
      assert.equal(tuned, 'false');
      assert.equal(Number(thr), t.global);
    }
  }
  assert.ok(rare >= 5, `fixture has rare labels (${rare})`);
  assert.ok((run.metrics.tuned_labels as number) > 20);
  const svg = await readFile(join(run.out, 'per-label-f1.svg'), 'utf8');
  // One bar and one threshold tick per label (the chart kit marks each with class "mark").
  assert.equal((svg.match(/<rect class="mark"/g) ?? []).length, 40);
  assert.equal((svg.match(/<line class="mark"/g) ?? []).length, 40);
});

test('coordinate ascent ends in a local optimum: no single label move on the grid improves micro-F1', () => {
  const probs = data.models[0]?.validation as Float32Array;
  const truth = data.validation.truth;
  const steps = 25;
  const fit = fitThresholds(truth, probs, 2000, 40, { steps, minSupport: 1, maxPasses: 50 });
  const base = microF1AtThreshold(truth, probs, 2000, 40, fit.thresholds);
  assert.ok(Math.abs(base - fit.f1) < 1e-12, `reported ${fit.f1}, recomputed ${base}`);
  assert.ok(
    fit.history.every((f, i) => i === 0 || f >= (fit.history[i - 1] as number)),
    'each pass never lowers F1',
  );
  assert.equal(fit.history[0], fitGlobalThreshold(truth, probs, 2000, 40, steps).f1);
  for (let l = 0; l < 40; l++) {
    if ((fit.support[l] as number) === 0) continue;
    for (let k = 1; k <= steps; k++) {
      const th = Float64Array.from(fit.thresholds);
      th[l] = k / steps;
      assert.ok(
        microF1AtThreshold(truth, probs, 2000, 40, th) <= base + 1e-12,
        `label ${l} at ${k / steps} beats the ascent`,
      );
    }
  }
});

test('grid bins agree exactly with score >= k/steps', () => {
  for (const steps of [3, 7, 10, 100, 1000]) {
    for (const s of [
      0,
      0.1,
      0.2,
      0.3,
      0.7,
      1 / 3,
      2 / 3,
      0.29999998,
      Math.fround(0.3),
      Math.fround(0.7),
      0.999,
      1,
      1.5,
      -0.1,
    ]) {
      const b = gridBin(s, steps);
      for (let k = 1; k <= steps; k++) assert.equal(b >= k, s >= k / steps, `s=${s} steps=${steps} k=${k}`);
    }
  }
});

test('at_least_one gives every image a label; modes global and fixed write constant thresholds', async () => {
  const strict = await runStage(STAGE, { mode: 'fixed', fixed: 0.9, at_least_one: true }, { needs });
  const t = JSON.parse(await readFile(join(strict.out, 'thresholds.json'), 'utf8')) as ThresholdsFile;
  assert.ok(t.thresholds.every((x) => x === 0.9));
  assert.equal(t.at_least_one, true);
  const probs = data.models[1]?.holdout as Float32Array;
  const pred = applyThresholds(probs, 2000, 40, t.thresholds, true);
  for (let r = 0; r < 2000; r++)
    assert.ok(
      pred.subarray(r * 40, r * 40 + 40).some((x) => x === 1),
      `image ${r} has no label`,
    );
  const without = applyThresholds(probs, 2000, 40, t.thresholds, false);
  assert.ok(without.reduce((a, b) => a + b, 0) < pred.reduce((a, b) => a + b, 0));
  const h = strict.metrics.holdout as Scores;
  assert.notEqual(h.micro_f1, h.micro_f1_fixed, 'at_least_one changes the written score at 0.9');
  const global = await runStage(STAGE, { mode: 'global' }, { needs });
  const tg = JSON.parse(await readFile(join(global.out, 'thresholds.json'), 'utf8')) as ThresholdsFile;
  assert.ok(tg.thresholds.every((x) => x === tg.global));
  assert.equal((global.metrics.holdout as Scores).micro_f1, (global.metrics.holdout as Scores).micro_f1_global);
});

test('labels dropped by split count as misses, consistently in fitting and reporting', async () => {
  // A split that kept all labels but the most common and the rarest; the lines keep full truth.
  const dropped = [data.labelIds[0] as string, data.labelIds[39] as string];
  const kept = data.labelIds.filter((l) => !dropped.includes(l));
  const split = join(root, 'split-dropped');
  await writeSplitFolder(split, data);
  await writeFile(join(split, 'labels.json'), JSON.stringify(kept) + '\n');
  const run = await runStage(STAGE, {}, { needs: { split, 'train-head@a': needs['train-head@a'] as string } });
  const t = JSON.parse(await readFile(join(run.out, 'thresholds.json'), 'utf8')) as ThresholdsFile;
  assert.deepEqual(t.labels, kept);
  const keptCols = kept.map((l) => data.labelIds.indexOf(l));
  for (const [name, s] of [
    ['validation', data.validation],
    ['holdout', data.holdout],
  ] as const) {
    const n = s.ids.length;
    const truth = new Uint8Array(n * 38);
    const probs = new Float32Array(n * 38);
    const missed = new Uint16Array(n);
    const full = data.models[1]?.[name] as Float32Array;
    for (let r = 0; r < n; r++) {
      keptCols.forEach((c, j) => {
        truth[r * 38 + j] = s.truth[r * 40 + c] as number;
        probs[r * 38 + j] = full[r * 40 + c] as number;
      });
      missed[r] = (s.truth[r * 40] as number) + (s.truth[r * 40 + 39] as number);
    }
    const m = run.metrics[name] as Scores & { true_labels_outside_model: number };
    assert.equal(
      m.true_labels_outside_model,
      missed.reduce((a, b) => a + b, 0),
    );
    assert.ok(m.true_labels_outside_model > 100);
    const f1 = microF1AtThreshold(truth, probs, n, 38, t.thresholds, missed);
    assert.equal(Math.round(f1 * 1e6) / 1e6, m.micro_f1, name);
    // Ignoring the dropped labels would flatter the score.
    assert.ok(microF1AtThreshold(truth, probs, n, 38, t.thresholds) > f1 + 0.01);
  }
  // The fit saw the misses too: its validation optimum is the reported one.
  const v = run.metrics.validation as Scores;
  assert.ok(v.micro_f1_per_label >= v.micro_f1_global && v.micro_f1_global >= v.micro_f1_fixed);
});

test('after ensemble-pso: several producers need the predictions param', async () => {
  const more = { ...needs, 'train-head@b': join(root, 'b') };
  await writeModelFolder(more['train-head@b'] as string, data, 0);
  const ens = await runStage('stages/ensemble-pso.ts', { swarm_size: 6, iterations: 4 }, { needs: more });
  const withEnsemble = { ...more, 'ensemble-pso': ens.out };
  await assert.rejects(
    runStage(STAGE, {}, { needs: withEnsemble }),
    /several needed stages hold predictions .*name one with param predictions/,
  );
  const run = await runStage(STAGE, { predictions: 'ensemble-pso' }, { needs: withEnsemble });
  assert.equal(run.metrics.source, 'ensemble-pso');
  assert.ok((run.metrics.holdout as Scores).micro_f1 >= (ens.metrics.holdout as { micro_f1: number }).micro_f1 - 0.005);
  await assert.rejects(
    runStage(STAGE, { predictions: 'split' }, { needs: withEnsemble }),
    /"split" is not among|has no predictions/,
  );
});
