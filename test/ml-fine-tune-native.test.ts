/**
 * fine-tune-backbone's images route on the native backend (tfjs-node): the last N layers, counted
 * as Keras counts them, train end to end from the pixels (a depthwise 3x3 convolution among them):
 * the saved network's trained layers moved away from the backbone's weights and every frozen one
 * kept them bit for bit; the head phase is reported beside the tuned network; and two runs with
 * the same seed write the same bytes (augmentation drawn before decodes, not in decode order).
 * Skips where the install step built no native backend, or when forced onto another backend.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStage } from './helpers/stage-harness.js';
import { makeShapesDataset, type ShapesDataset } from './fixtures/ml/shapes-dataset.js';
import { readArtifacts } from '../src/ml/model-io.js';
import { useBackend } from '../src/ml/backend.js';
import { readNativeInstall } from '../src/ml/native-install.js';
import { tinyGraph } from '../src/ml/tiny-backbone.js';
import { isWeightNode, nodeWeights } from '../src/ml/graph.js';

const STAGE = 'stages/fine-tune-backbone.ts';
const install = readNativeInstall();
const forced = process.env.TAILOR_BACKEND;
const skip =
  forced && forced !== 'auto' && !forced.startsWith('tfjs-node')
    ? `forced onto ${forced}: this test is about the native backend`
    : install?.status === 'ok'
      ? false
      : `no native backend here: install step ${install ? `${install.status}: ${install.reason ?? ''}` : 'has not run'}`;

const SEED = 3;
const params = {
  backbone: 'tiny',
  input_size: 32,
  workers: 0,
  // A short head phase leaves room for fine-tuning to improve on it (so its weights are kept).
  epochs: 3,
  batch_size: 16,
  hidden: [32],
  // head_conv, block2_add, block2_project, block2_dw: a 1x1 conv, the residual add, the projection and the depthwise 3x3.
  unfreeze: 4,
  fine_tune_epochs: 4,
  fine_tune_lr: 0.002,
  fine_tune_batch_size: 16,
  crop: 2,
};
let root: string;
let ds: ShapesDataset;

interface NativeMetrics {
  backend: string;
  route: string;
  ops: string;
  unfrozen_keras_layers: number;
  trained_layers: string[];
  head_phase: { validation_micro_f1: number; holdout_micro_f1: number };
  tuned_phase: { validation_micro_f1: number; holdout_micro_f1: number };
  beat_head_phase_on_validation: boolean;
  fine_tune_phase: { epochs: number } | null;
}

test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'tailor-ml-ft-native-'));
  ds = await makeShapesDataset(join(root, 'data'), { counts: { train: 60, validation: 20, holdout: 20, test: 6 } });
});

const run = (state: string): ReturnType<typeof runStage> =>
  runStage(STAGE, params, { needs: { pad: ds.padDir, split: ds.splitDir }, state: join(root, state), seed: SEED });

test(
  'on tfjs-node the last N layers train end to end; frozen layers keep their weights; runs repeat their bytes',
  { skip },
  async () => {
    const a = await run('a');
    const ft = a.metrics.fine_tune as NativeMetrics;
    assert.equal(ft.backend, install!.package!.replace('@tensorflow/', ''));
    assert.equal(ft.route, 'images');
    assert.equal(ft.ops, 'native');
    assert.equal(ft.unfrozen_keras_layers, 4);
    assert.deepEqual(ft.trained_layers, ['block2_dw', 'block2_project', 'head_conv']);
    assert.ok(ft.fine_tune_phase && ft.fine_tune_phase.epochs >= 1);

    // The head phase beside the tuned network, and the verdict on validation in metrics and log.
    for (const k of ['validation_micro_f1', 'holdout_micro_f1'] as const) {
      assert.ok(ft.head_phase[k] >= 0 && ft.head_phase[k] <= 1, k);
      assert.ok(ft.tuned_phase[k] >= 0 && ft.tuned_phase[k] <= 1, k);
    }
    assert.equal(
      ft.beat_head_phase_on_validation,
      ft.tuned_phase.validation_micro_f1 > ft.head_phase.validation_micro_f1,
    );
    assert.ok(
      a.logs.some((l) => /^fine-tuning (beat|did NOT beat) its head phase on validation: micro-F1 /.test(l)),
      a.logs.join('\n'),
    );

    // Trained layers moved; every frozen weight layer is bit for bit the backbone's.
    const { tf } = await useBackend('auto');
    const model = await tf.loadLayersModel(tf.io.fromMemory((await readArtifacts(join(a.out, 'model'))).artifacts));
    const trained = new Set(ft.trained_layers);
    let frozenChecked = 0;
    for (const n of tinyGraph(32, SEED).nodes) {
      if (!isWeightNode(n)) continue;
      const saved = model.getLayer(n.id).getWeights();
      const original = nodeWeights(n);
      assert.equal(saved.length, original.length, n.id);
      const changed = saved.some((w, i) => {
        const got = w.dataSync();
        const want = original[i]![1];
        return got.some((v, j) => v !== want[j]);
      });
      if (trained.has(n.id)) assert.ok(changed, `${n.id} was to train but kept its weights`);
      else {
        assert.ok(!changed, `${n.id} is frozen but its weights changed`);
        frozenChecked++;
      }
    }
    assert.ok(frozenChecked >= 3, `frozen layers checked: ${frozenChecked}`);
    model.dispose();

    // Same seed, fresh state: the same bytes.
    const b = await run('b');
    for (const f of ['predictions.json', 'epochs.jsonl', 'model/weights.bin']) {
      const [x, y] = await Promise.all([readFile(join(a.out, f)), readFile(join(b.out, f))]);
      assert.ok(x.equals(y), `${f} differs between two runs with the same seed`);
    }
  },
);
