/**
 * The pretrained MobileNetV2 from the installed nsfwjs package: read from local files (no URL),
 * cut at its global pooling, cached as model.json + weights.bin and loaded from that cache the
 * second time; the folded graph gives the Keras trunk's features.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SymbolicTensor, Tensor, Tensor4D } from '@tensorflow/tfjs';
import { useBackend } from '../src/ml/backend.js';
import { loadBackbone } from '../src/ml/backbones.js';
import { readArtifacts } from '../src/ml/model-io.js';
import { nsfwjsVersion } from '../src/ml/nsfwjs-models.js';

test('mobilenet_v2: converted once, then loaded from the cache; folded = Keras features', async () => {
  const { tf } = await useBackend('auto');
  const cacheDir = await mkdtemp(join(tmpdir(), 'tailor-ml-models-'));
  const logs: string[] = [];
  const first = await loadBackbone(tf, { name: 'mobilenet_v2' }, { cacheDir, log: (m) => logs.push(m) });
  assert.equal(first.fromCache, false);
  assert.equal(first.featureDim, 1280);
  assert.equal(first.inputSize, 224);
  assert.ok(first.graph, 'MobileNetV2 folds');
  assert.match(first.id, /^nsfwjs-4\.\d+\.\d+\/mobilenet_v2\/224\/unit$/);
  const entry = join(cacheDir, `nsfwjs-${nsfwjsVersion()}`, 'mobilenet_v2-cut');
  assert.ok(existsSync(join(entry, 'model.json')) && existsSync(join(entry, 'weights.bin')));
  assert.ok(logs.some((l) => l.includes('cut at flatten_1')));
  const json = JSON.parse(await readFile(join(entry, 'model.json'), 'utf8')) as { tailor: { cut: string } };
  assert.equal(json.tailor.cut, 'flatten_1');

  const started = Date.now();
  const second = await loadBackbone(tf, { name: 'mobilenet_v2' }, { cacheDir });
  assert.equal(second.fromCache, true);
  assert.ok(Date.now() - started < 20_000);

  // Folded fused inference against the cached Keras trunk itself.
  const keras = await tf.loadLayersModel(tf.io.fromMemory((await readArtifacts(entry)).artifacts));
  const trunk = tf.model({ inputs: keras.inputs, outputs: keras.outputs[0] as SymbolicTensor });
  const x = tf.randomUniform([2, 224, 224, 3], 0, 1, 'float32', 11) as Tensor4D;
  const want = (trunk.predict(x) as Tensor).dataSync();
  const got = second.run(x)[0]!.dataSync();
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(want[i]! - got[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  assert.ok(scale > 0.1, 'features are not all zero');
  assert.ok(diff < 1e-3 * scale, `max diff ${diff} (scale ${scale})`);
  first.dispose();
  second.dispose();
});

test('an unknown size for an nsfwjs model is refused before loading', async () => {
  const { tf } = await useBackend('auto');
  await assert.rejects(
    loadBackbone(tf, { name: 'inception_v3', inputSize: 224 }, { cacheDir: tmpdir() }),
    /inception_v3 takes 299x299 inputs/,
  );
});
