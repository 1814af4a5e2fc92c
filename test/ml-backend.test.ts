/**
 * Backend choice on this kind of machine (no libtensorflow): auto falls through the native
 * packages to wasm with SIMD and says why; forcing a missing one fails clearly; doctor reports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { doctor, formatDoctor, gpuNotice, packageVersion, useBackend } from '../src/ml/backend.js';

test('auto picks the first backend that loads and explains the skipped ones', async () => {
  const b = await useBackend('auto');
  const nativeInstalled =
    packageVersion('@tensorflow/tfjs-node') !== null || packageVersion('@tensorflow/tfjs-node-gpu') !== null;
  if (!nativeInstalled) {
    assert.equal(b.name, 'wasm');
    assert.equal(b.reasons.length, 2);
    assert.match(b.reasons[0]!, /^tfjs-node-gpu: /);
    assert.match(b.reasons[1]!, /^tfjs-node: not installed/);
    assert.ok(b.details.includes('SIMD on'), `details: ${b.details.join(', ')}`);
  }
  assert.equal(b.tf.getBackend(), b.name === 'wasm' ? 'wasm' : b.name === 'cpu' ? 'cpu' : 'tensorflow');
  // The backend computes: a small product checks the wiring, not just the name.
  const y = b.tf.matMul(b.tf.tensor2d([[1, 2]]), b.tf.tensor2d([[3], [4]]));
  assert.deepEqual(Array.from(y.dataSync()), [11]);
  // One tfjs engine per process: a second call returns the same choice.
  assert.equal(await useBackend('auto'), b);
});

test("forcing a backend that is not this process's is refused", async () => {
  const b = await useBackend('auto');
  const other = b.name === 'cpu' ? 'wasm' : 'cpu';
  await assert.rejects(useBackend(other), /already uses/);
});

test('doctor lists the backend, the reasons and the package versions', async () => {
  const r = await doctor();
  assert.ok(r.backend);
  assert.equal(typeof r.versions['@tensorflow/tfjs'], 'string');
  assert.equal(typeof r.versions.nsfwjs, 'string');
  const lines = formatDoctor(r);
  assert.match(lines[0]!, /^ml backend: /);
  assert.ok(
    lines.some((l) => l.includes('nsfwjs: 4.')),
    lines.join('\n'),
  );
});

test('a GPU assigned but unusable gets a one-line notice', async () => {
  const b = await useBackend('auto');
  const saved = process.env.CUDA_VISIBLE_DEVICES;
  try {
    process.env.CUDA_VISIBLE_DEVICES = '0';
    const notice = b.name === 'tfjs-node-gpu' ? undefined : gpuNotice(b);
    if (b.name !== 'tfjs-node-gpu') assert.match(notice ?? '', /^GPU 0 assigned but not usable .* running on /);
    process.env.CUDA_VISIBLE_DEVICES = '';
    assert.equal(gpuNotice(b), undefined);
  } finally {
    if (saved === undefined) delete process.env.CUDA_VISIBLE_DEVICES;
    else process.env.CUDA_VISIBLE_DEVICES = saved;
  }
});
