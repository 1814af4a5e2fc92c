/**
 * fine-tune-backbone with the tiny backbone on the shapes fixture: both phases run and are
 * reported, the saved network maps image pixels to the predicted probabilities, a rerun with
 * another fine-tuning learning rate reuses the cached activations and the head phase, and the
 * images route (decode, flip/shift, frozen trunk per step) trains too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Tensor } from '@tensorflow/tfjs';
import { runStage } from './helpers/stage-harness.js';
import { makeShapesDataset, type ShapesDataset } from './fixtures/ml/shapes-dataset.js';
import { readPredictions } from '../src/formats/predictions.js';
import { readArtifacts } from '../src/ml/model-io.js';
import { useBackend } from '../src/ml/backend.js';
import { decodeRgb, preprocessInto } from '../src/ml/image-input.js';

const STAGE = 'stages/fine-tune-backbone.ts';
const params = {
  backbone: 'tiny',
  input_size: 32,
  workers: 0,
  epochs: 15,
  batch_size: 16,
  hidden: [32],
  unfreeze: 2,
  fine_tune_epochs: 3,
  fine_tune_lr: 0.001,
  fine_tune_batch_size: 16,
};
let root: string;
let ds: ShapesDataset;
const needs = (): Record<string, string> => ({ pad: ds.padDir, split: ds.splitDir });

interface FineTuneMetrics {
  route: string;
  ops: string;
  trained_layers: string[];
  activations: { computed: number; reused: number };
  head_phase: { epochs: number; holdout_micro_f1: number; seconds_per_epoch: number };
  fine_tune_phase: { epochs: number; seconds_per_epoch: number } | null;
}

test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'tailor-ml-ft-'));
  ds = await makeShapesDataset(join(root, 'data'), { counts: { train: 60, validation: 20, holdout: 20, test: 6 } });
});

test('head phase then fine-tuning; the saved network reproduces the predictions from pixels', async () => {
  const state = join(root, 'state');
  // The cached route by name: `auto` picks the images route on tfjs-node.
  const r = await runStage(STAGE, { ...params, route: 'cached' }, { needs: needs(), state, seed: 1 });
  const ft = r.metrics.fine_tune as FineTuneMetrics;
  assert.equal(ft.route, 'cached');
  // wasm has no convolution gradients: matmul-style ops there, the backend's own kernels elsewhere.
  assert.equal(ft.ops, (r.metrics.backend as { name: string }).name === 'wasm' ? 'matmul' : 'native');
  assert.deepEqual(ft.trained_layers, ['block2_project', 'head_conv']);
  assert.equal(ft.activations.computed, 60 + 20 + 20 + 6);
  assert.ok(ft.head_phase.epochs >= 1 && ft.head_phase.seconds_per_epoch > 0);
  assert.ok(ft.fine_tune_phase && ft.fine_tune_phase.epochs >= 1 && ft.fine_tune_phase.seconds_per_epoch > 0);
  const m = r.metrics as {
    validation: { micro_f1: number };
    holdout: { micro_f1: number };
    test: { images: number; missing: number };
  };
  assert.ok(m.holdout.micro_f1 > 0.5, `holdout ${m.holdout.micro_f1}`);
  assert.deepEqual(m.test, { images: 6, missing: 2 });
  const epochs = (await readFile(join(r.out, 'epochs.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { phase: string });
  assert.deepEqual([...new Set(epochs.map((e) => e.phase))], ['head', 'fine-tune']);

  // The whole network: image in, probabilities out, as predicted (activations were cached in float16).
  const preds = await readPredictions(r.out);
  const val = preds.splits.validation!;
  const line = (await readFile(join(ds.splitDir, 'validation.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { imageId: string; file: string })
    .find((e) => e.imageId === val.ids[0])!;
  const { tf } = await useBackend('auto');
  const model = await tf.loadLayersModel(tf.io.fromMemory((await readArtifacts(join(r.out, 'model'))).artifacts));
  const pixels = new Float32Array(32 * 32 * 3);
  preprocessInto(await decodeRgb(await readFile(join(ds.padDir, line.file)), 32), 'unit', pixels, 0);
  const probs = (model.predict(tf.tensor4d(pixels, [1, 32, 32, 3])) as Tensor).dataSync();
  const L = preds.labels.length;
  for (let l = 0; l < L; l++)
    assert.ok(Math.abs(probs[l]! - val.probs[l]!) < 0.02, `label ${l}: ${probs[l]} vs ${val.probs[l]}`);

  // Another fine-tuning learning rate: activations and the head phase are reused.
  const again = await runStage(
    STAGE,
    { ...params, route: 'cached', fine_tune_lr: 0.0003 },
    { needs: needs(), state, seed: 1 },
  );
  const ft2 = again.metrics.fine_tune as FineTuneMetrics;
  assert.equal(ft2.activations.computed, 0);
  assert.equal(ft2.activations.reused, 106);
  assert.ok(
    again.logs.some((l) => /^head: resuming from the checkpoint/.test(l)),
    again.logs.join('\n'),
  );
  assert.equal(ft2.head_phase.holdout_micro_f1, ft.head_phase.holdout_micro_f1);
});

test('the images route decodes and augments every step', async () => {
  const r = await runStage(
    STAGE,
    { ...params, route: 'images', fine_tune_epochs: 1 },
    { needs: needs(), state: join(root, 'state-img'), seed: 2 },
  );
  const ft = r.metrics.fine_tune as FineTuneMetrics;
  assert.equal(ft.route, 'images');
  assert.equal(ft.fine_tune_phase?.epochs, 1);
  assert.ok(ft.fine_tune_phase!.seconds_per_epoch > 0);
});

test('a graph-model backbone cannot be fine-tuned and says why', async () => {
  await assert.rejects(
    runStage(
      STAGE,
      { ...params, backbone: 'mobilenet_v2_mid', input_size: undefined },
      { needs: needs(), state: join(root, 'state-mid') },
    ),
    /cannot be folded into trainable layers/,
  );
});
