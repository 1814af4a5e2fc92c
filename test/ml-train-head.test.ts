/**
 * train-head on tiny-backbone features of the shapes fixture: it learns (holdout micro-F1 well
 * above predicting the most frequent labels), writes the predictions contract, a loadable model
 * and a learning curve; the same seed gives the same bytes; an interrupted run resumes from its
 * checkpoint and ends exactly where an uninterrupted one does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { cp, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Tensor } from '@tensorflow/tfjs';
import { runStage } from './helpers/stage-harness.js';
import { makeShapesDataset } from './fixtures/ml/shapes-dataset.js';
import { readPredictions } from '../src/formats/predictions.js';
import { readFeatureIndex, readSplit } from '../src/formats/features.js';
import { readArtifacts } from '../src/ml/model-io.js';
import { useBackend } from '../src/ml/backend.js';

const STAGE = 'stages/train-head.ts';
const params = { epochs: 25, batch_size: 16, hidden: [32], patience: 25 };
let root: string;
let features: string;

test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'tailor-ml-head-'));
  const ds = await makeShapesDataset(join(root, 'data'), {
    counts: { train: 90, validation: 30, holdout: 30, test: 6 },
  });
  const pre = await runStage(
    'stages/precompute.ts',
    { backbone: 'tiny', input_size: 32, workers: 0 },
    { needs: { pad: ds.padDir, split: ds.splitDir }, state: join(root, 'pre-state') },
  );
  features = pre.out;
});

test('learns, and writes predictions, metrics, epochs, a learning curve and a loadable model', async () => {
  const r = await runStage(STAGE, params, { needs: { pre: features }, state: join(root, 's1'), seed: 3 });
  const files = await readdir(r.out);
  for (const f of [
    'predictions.json',
    'pred-validation.f32',
    'pred-holdout.f32',
    'pred-test.f32',
    'metrics.json',
    'epochs.jsonl',
    'learning-curve.svg',
    'model',
  ])
    assert.ok(files.includes(f), `missing ${f}`);
  const m = r.metrics as {
    validation: { micro_f1: number };
    holdout: { micro_f1: number; images: number };
    test: { images: number; missing: number };
    train: { epochs: number };
  };
  assert.equal(m.holdout.images, 30);
  assert.deepEqual(m.test, { images: 6, missing: 2 });
  // Most frequent labels alone score about 0.4 here; colours and shapes are learnable.
  assert.ok(m.holdout.micro_f1 > 0.6, `holdout micro-F1 ${m.holdout.micro_f1}`);
  const epochs = (await readFile(join(r.out, 'epochs.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { loss: number; val_micro_f1: number });
  assert.equal(epochs.length, m.train.epochs);
  assert.ok(epochs.at(-1)!.loss < epochs[0]!.loss, 'training loss falls');
  assert.match(await readFile(join(r.out, 'learning-curve.svg'), 'utf8'), /<svg[\s\S]*validation micro-F1/);

  const preds = await readPredictions(r.out);
  const index = await readFeatureIndex(features);
  assert.deepEqual(preds.labels, index.labels);
  const val = preds.splits.validation!;
  assert.equal(val.probs.length, val.ids.length * preds.labels.length);
  assert.ok(val.probs.every((p) => p >= 0 && p <= 1));

  // The saved head is a standard LayersModel giving the same probabilities.
  const { tf } = await useBackend('auto');
  const model = await tf.loadLayersModel(tf.io.fromMemory((await readArtifacts(join(r.out, 'model'))).artifacts));
  const d = (await readSplit(features, index, 'validation'))!;
  const probs = (model.predict(tf.tensor2d(d.x.range(0, d.x.rows), [d.x.rows, d.x.dim])) as Tensor).dataSync();
  let diff = 0;
  for (let i = 0; i < probs.length; i++) diff = Math.max(diff, Math.abs(probs[i]! - val.probs[i]!));
  assert.ok(diff < 1e-4, `saved model differs by ${diff}`);
});

test('same seed, same bytes; another seed, other numbers', async () => {
  const a = await runStage(
    STAGE,
    { ...params, epochs: 6 },
    { needs: { pre: features }, state: join(root, 's2'), seed: 5 },
  );
  const b = await runStage(
    STAGE,
    { ...params, epochs: 6 },
    { needs: { pre: features }, state: join(root, 's3'), seed: 5 },
  );
  const c = await runStage(
    STAGE,
    { ...params, epochs: 6 },
    { needs: { pre: features }, state: join(root, 's4'), seed: 6 },
  );
  const bytes = async (dir: string): Promise<Buffer> => readFile(join(dir, 'pred-holdout.f32'));
  // Every file but metrics.json (timings), the saved model included: b ran after a in the same
  // process, so nothing may depend on what the process built before (tfjs numbers unnamed models).
  const files = async (dir: string): Promise<Record<string, string>> => {
    const names = (await readdir(dir, { recursive: true, withFileTypes: true })).filter(
      (e) => e.isFile() && e.name !== 'metrics.json',
    );
    return Object.fromEntries(
      await Promise.all(
        names.map(
          async (e) =>
            [
              join(e.parentPath, e.name).slice(dir.length),
              (await readFile(join(e.parentPath, e.name))).toString('base64'),
            ] as const,
        ),
      ),
    );
  };
  const [fa, fb] = [await files(a.out), await files(b.out)];
  assert.ok(
    Object.keys(fa).some((f) => f.endsWith('model.json')),
    Object.keys(fa).join(', '),
  );
  assert.deepEqual(fa, fb);
  assert.notDeepEqual(await bytes(a.out), await bytes(c.out));
});

test('an interrupted run resumes from its checkpoint and ends as an uninterrupted one', async () => {
  const full = await runStage(STAGE, params, { needs: { pre: features }, state: join(root, 's5'), seed: 9 });
  const state = join(root, 's6');
  const stop = new AbortController();
  // Abort once the checkpoint after epoch 4 is on disk.
  // Checkpoints live in checkpoints/<code key>/<checkpoint key>/ (read synchronously: one poll, one turn).
  const poll = setInterval(() => {
    const dir = join(state, 'checkpoints');
    if (!existsSync(dir)) return;
    for (const code of readdirSync(dir)) {
      for (const k of readdirSync(join(dir, code))) {
        try {
          const meta = JSON.parse(readFileSync(join(dir, code, k, 'meta.json'), 'utf8')) as { meta: { epoch: number } };
          if (meta.meta.epoch >= 3) stop.abort();
        } catch {
          // being written
        }
      }
    }
  }, 1);
  await assert.rejects(runStage(STAGE, params, { needs: { pre: features }, state, seed: 9, signal: stop.signal }));
  clearInterval(poll);
  const resumed = await runStage(STAGE, params, { needs: { pre: features }, state, seed: 9 });
  const at = (resumed.metrics.train as { resumed_at_epoch: number | null }).resumed_at_epoch;
  assert.ok(at !== null && at >= 5, `resumed at ${at}`);
  assert.ok(resumed.logs.some((l) => l.includes('resuming from the checkpoint')));
  assert.deepEqual(
    await readFile(join(resumed.out, 'pred-holdout.f32')),
    await readFile(join(full.out, 'pred-holdout.f32')),
  );
  assert.deepEqual(
    await readFile(join(resumed.out, 'epochs.jsonl'), 'utf8'),
    await readFile(join(full.out, 'epochs.jsonl'), 'utf8'),
  );
  // A finished run removes its checkpoint.
  const [code, ...others] = await readdir(join(state, 'checkpoints'));
  assert.deepEqual(others, []);
  assert.deepEqual(await readdir(join(state, 'checkpoints', code!)), []);
});

test('with the split among its needs, scores cover every image of the split, failed downloads answered from priors', async () => {
  // The fixture's split plus three validation images whose download failed (labels known).
  const split = join(root, 'split-with-failures');
  await cp(join(root, 'data', 'split'), split, { recursive: true });
  const failed = ['red circle', 'blue square', 'green triangle'].map((l, i) =>
    JSON.stringify({ imageId: `f${i}`, set: 'validation', labels: l.split(' '), error: 'http 404' }),
  );
  await writeFile(join(split, 'validation-failed.jsonl'), failed.join('\n') + '\n');

  type Scores = { micro_f1: number; scored: string; images?: number; answered_from_priors?: number };
  const honest = await runStage(STAGE, params, { needs: { pre: features, split }, state: join(root, 's6'), seed: 3 });
  const v = (honest.metrics as { validation: Scores & { predicted_only: { images: number; micro_f1: number } } })
    .validation;
  assert.equal(v.scored, 'every image of the split');
  assert.equal(v.images, 33);
  assert.equal(v.answered_from_priors, 3);
  assert.equal(v.predicted_only.images, 30);
  assert.notEqual(v.micro_f1, v.predicted_only.micro_f1, 'three more images change the score');
  assert.ok(honest.logs.some((l) => /validation: 3 of 33 image\(s\) scored as submit answers them/.test(l)));
  // Early stopping watched that same score: the best epoch's validation micro-F1 is the reported one.
  const best = (honest.metrics as { train: { best_epoch: number } }).train.best_epoch;
  const epochs = (await readFile(join(honest.out, 'epochs.jsonl'), 'utf8')).trim().split('\n');
  const watched = (JSON.parse(epochs[best - 1]!) as { val_micro_f1: number }).val_micro_f1;
  assert.ok(Math.abs(watched - v.micro_f1) < 1e-9, `epoch ${best} watched ${watched}, reported ${v.micro_f1}`);

  // Without a split the scores say they are over the predicted images only, and equal that score.
  const alone = await runStage(STAGE, params, { needs: { pre: features }, state: join(root, 's7'), seed: 3 });
  const a = (alone.metrics as { validation: Scores }).validation;
  assert.equal(a.scored, 'predicted images only (no split among needs)');
  assert.equal(a.micro_f1, v.predicted_only.micro_f1);
  // The predictions themselves do not depend on how they are scored.
  assert.ok(
    (await readFile(join(honest.out, 'pred-validation.f32'))).equals(
      await readFile(join(alone.out, 'pred-validation.f32')),
    ),
  );
});
