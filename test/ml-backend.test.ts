/**
 * Backend choice follows what the install step recorded: where it built tfjs-node, `auto` must
 * load it (with the recorded libtensorflow); where it failed or was turned off, `auto` falls to
 * wasm and says why, naming the install step's reason. Worker threads never load libtensorflow.
 * TensorFlow's log lines are recognised and silenced unless asked for; doctor reports everything.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gpuNotice, mayBeNative, useBackend } from '../src/ml/backend.js';
import { doctor, formatDoctor } from '../src/ml/backend-doctor.js';
import { gpuBackendUsable } from '../src/ml/gpu-capable.js';
import { nativeUnavailable, readNativeInstall } from '../src/ml/native-install.js';
import { isTensorFlowNoise, quietTensorFlow } from '../src/ml/tf-log.js';
import { startWorker } from '../src/ml/ts-worker.js';

const install = readNativeInstall();
const forced =
  process.env.TAILOR_BACKEND && process.env.TAILOR_BACKEND !== 'auto' ? process.env.TAILOR_BACKEND : undefined;
const nativeBuilt = !forced && install?.status === 'ok';

test('auto loads what the install step built, or wasm with its reason', async () => {
  const b = await useBackend('auto');
  if (forced) {
    assert.equal(b.name, forced);
  } else if (nativeBuilt) {
    assert.equal(`@tensorflow/${b.name}`, install!.package, `install step built ${install!.package}, got ${b.name}`);
    assert.equal(b.libtensorflow?.version, install!.libtensorflow?.version);
    assert.ok(
      b.details.some((d) => d.startsWith(`libtensorflow ${install!.libtensorflow!.version} from `)),
      b.details.join(', '),
    );
    assert.equal(b.tf.getBackend(), 'tensorflow');
  } else {
    assert.equal(b.name, 'wasm');
    assert.match(
      b.reasons[1]!,
      /^tfjs-node: (binding not built|not installed) \((install step (failed|disabled)|the install step has not run)/,
    );
    assert.ok(b.details.includes('SIMD on'), `details: ${b.details.join(', ')}`);
  }
  // The backend computes: a small product checks the wiring, not just the name.
  const y = b.tf.matMul(b.tf.tensor2d([[1, 2]]), b.tf.tensor2d([[3], [4]]));
  assert.deepEqual(Array.from(y.dataSync()), [11]);
  // One tfjs engine per process: a second call returns the same choice.
  assert.equal(await useBackend('auto'), b);
  assert.equal(mayBeNative('auto'), nativeBuilt);
});

test(
  'the install step recorded its outcome',
  { skip: !install && !process.env.CI && 'the install step has not run here (npm run native-backend)' },
  () => {
    // In CI `npm ci` runs it: a missing record means the postinstall hook did not run.
    assert.ok(install, 'no node_modules/.cache/tailor/native-backend.json: did npm run the postinstall step?');
    assert.match(install.status, /^(ok|failed|disabled)$/);
    if (install.status !== 'ok') assert.ok(install.reason, 'a failed or disabled install says why');
  },
);

test("forcing a backend that is not this process's is refused", async () => {
  const b = await useBackend('auto');
  const other = b.name === 'cpu' ? 'wasm' : 'cpu';
  await assert.rejects(useBackend(other), /already uses/);
});

test('a worker thread never loads libtensorflow: auto gives it wasm, forcing tfjs-node is refused', async () => {
  const worker = startWorker(new URL('./fixtures/ml/backend-in-worker.ts', import.meta.url), {});
  const msg = await new Promise<{ name: string; reasons: string[]; forced: string }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  assert.equal(msg.name, forced === 'cpu' ? 'cpu' : 'wasm');
  if (!forced)
    assert.match(
      msg.reasons.find((r) => r.startsWith('tfjs-node:')) ?? '',
      /^tfjs-node: not loaded in a worker thread/,
    );
  assert.match(msg.forced, /not loaded in a worker thread|already uses/);
});

test('doctor names the backend, libtensorflow, why each other backend is not used, and the install step', async () => {
  const r = await doctor();
  assert.ok(r.backend);
  assert.equal(typeof r.versions['@tensorflow/tfjs'], 'string');
  const lines = formatDoctor(r);
  assert.match(lines[0]!, new RegExp(`^ml backend: ${r.backend} \\(`));
  // Every other backend has its line: the ones before failed, the ones after were not needed.
  for (const other of ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'].filter((n) => n !== r.backend))
    assert.ok(
      lines.some((l) => l.startsWith(`  not used: ${other}: `)),
      `${other}:\n${lines.join('\n')}`,
    );
  const step = lines.find((l) => l.startsWith('  native install step: '));
  assert.ok(step, lines.join('\n'));
  if (install?.status === 'ok') {
    assert.match(step, /ok: @tensorflow\/tfjs-node(-gpu)? on libtensorflow \d+\.\d+\.\d+ /);
    if (!forced) assert.match(lines[0]!, /libtensorflow \d+\.\d+\.\d+ from \//);
  } else if (install) assert.ok(step.includes(install.reason ?? '?'), step);
  assert.ok(lines.some((l) => /^ {2}GPU stages: /.test(l)));
});

test('GPU stages hold tokens only where tfjs-node-gpu was built and saw a GPU', () => {
  const g = gpuBackendUsable();
  const gpuBuilt = install?.status === 'ok' && install.package === '@tensorflow/tfjs-node-gpu' && install.gpu === true;
  assert.equal(g.usable, gpuBuilt && !forced, g.why);
  assert.ok(g.why.length > 0);
  assert.deepEqual(gpuBackendUsable({ TAILOR_BACKEND: 'wasm' }), { usable: false, why: 'TAILOR_BACKEND=wasm' });
  if (!gpuBuilt) assert.match(nativeUnavailable('@tensorflow/tfjs-node-gpu') ?? '', /not built|not installed/);
});

test('a GPU assigned but unusable gets a one-line notice', async () => {
  const b = await useBackend('auto');
  const saved = process.env.CUDA_VISIBLE_DEVICES;
  try {
    process.env.CUDA_VISIBLE_DEVICES = '0';
    if (!b.gpu) assert.match(gpuNotice(b) ?? '', /^GPU 0 assigned but not usable .* running on /);
    process.env.CUDA_VISIBLE_DEVICES = '';
    assert.equal(gpuNotice(b), undefined);
  } finally {
    if (saved === undefined) delete process.env.CUDA_VISIBLE_DEVICES;
    else process.env.CUDA_VISIBLE_DEVICES = saved;
  }
});

test("TensorFlow's log lines are silenced unless TAILOR_TF_LOG asks for them", () => {
  const preamble = 'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR';
  const info =
    'I0000 00:00:1796126105.397007    1683 port.cc:153] oneDNN custom operations are on. You may see slightly different numerical results';
  const warning =
    'W0000 00:00:1796126105.397007    1683 cpu_allocator_impl.cc:83] Allocation of 1 exceeds 10% of free system memory.';
  assert.equal(isTensorFlowNoise(preamble, {}), true);
  assert.equal(isTensorFlowNoise(info, {}), true);
  assert.equal(isTensorFlowNoise(warning, {}), false);
  assert.equal(isTensorFlowNoise('train-head on tfjs-node: 40 train', {}), false);
  assert.equal(isTensorFlowNoise(info, { TAILOR_TF_LOG: '1' }), false);
  const env: NodeJS.ProcessEnv = {};
  quietTensorFlow(env);
  assert.equal(env.TF_CPP_MIN_LOG_LEVEL, '2');
  const asked: NodeJS.ProcessEnv = { TAILOR_TF_LOG: '1' };
  quietTensorFlow(asked);
  assert.equal(asked.TF_CPP_MIN_LOG_LEVEL, '0');
});
