/**
 * The pretrained MobileNetV2 and InceptionV3 (the seed's 299 px trunk) from the installed nsfwjs
 * package: read from local files (no URL), cut at the global pooling, cached as model.json +
 * weights.bin and loaded from that cache the second time; the folded graph gives the Keras
 * trunk's features.
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

/** The checks each pretrained nsfwjs trunk passes: conversion, cache, folding, features. */
async function checkTrunk(name: 'mobilenet_v2' | 'inception_v3', want: { dim: number; size: number; cut: string }) {
  const { tf } = await useBackend('auto');
  const cacheDir = await mkdtemp(join(tmpdir(), 'tailor-ml-models-'));
  const logs: string[] = [];
  const first = await loadBackbone(tf, { name }, { cacheDir, log: (m) => logs.push(m) });
  assert.equal(first.fromCache, false);
  assert.equal(first.featureDim, want.dim);
  assert.equal(first.inputSize, want.size);
  assert.ok(first.graph, `${name} folds`);
  assert.match(first.id, new RegExp(`^nsfwjs-4\\.\\d+\\.\\d+/${name}/${want.size}/unit$`));
  const entry = join(cacheDir, `nsfwjs-${nsfwjsVersion()}`, `${name}-cut`);
  assert.ok(existsSync(join(entry, 'model.json')) && existsSync(join(entry, 'weights.bin')));
  assert.ok(
    logs.some((l) => l.includes(`cut at ${want.cut}`)),
    logs.join('\n'),
  );
  const json = JSON.parse(await readFile(join(entry, 'model.json'), 'utf8')) as { tailor: { cut: string } };
  assert.equal(json.tailor.cut, want.cut);

  const started = Date.now();
  const second = await loadBackbone(tf, { name }, { cacheDir });
  assert.equal(second.fromCache, true);
  assert.ok(Date.now() - started < 60_000);

  // Folded fused inference against the cached Keras trunk itself.
  const keras = await tf.loadLayersModel(tf.io.fromMemory((await readArtifacts(entry)).artifacts));
  const trunk = tf.model({ inputs: keras.inputs, outputs: keras.outputs[0] as SymbolicTensor });
  const x = tf.randomUniform([2, want.size, want.size, 3], 0, 1, 'float32', 11) as Tensor4D;
  const expected = (trunk.predict(x) as Tensor).dataSync();
  const got = second.run(x)[0]!.dataSync();
  assert.equal(got.length, 2 * want.dim);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(expected[i]! - got[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  assert.ok(scale > 0.1, 'features are not all zero');
  assert.ok(diff < 1e-3 * scale, `max diff ${diff} (scale ${scale})`);
  first.dispose();
  second.dispose();
}

test('mobilenet_v2: converted once, then loaded from the cache; folded = Keras features', () =>
  checkTrunk('mobilenet_v2', { dim: 1280, size: 224, cut: 'flatten_1' }));

test('inception_v3 (the seed’s 299 px trunk): converted once, then loaded from the cache; folded = Keras features', () =>
  checkTrunk('inception_v3', { dim: 2048, size: 299, cut: 'flatten_1' }));

test('an unknown size for an nsfwjs model is refused before loading', async () => {
  const { tf } = await useBackend('auto');
  await assert.rejects(
    loadBackbone(tf, { name: 'inception_v3', inputSize: 224 }, { cacheDir: tmpdir() }),
    /inception_v3 takes 299x299 inputs/,
  );
});
