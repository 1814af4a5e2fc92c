/**
 * Each model stage (precompute, train-head, fine-tune-backbone; ensemble-pso does not use tfjs)
 * through the real CLI, one stage process each, on the backend the install step set up: where it
 * built a native package, every stage must run on it (metrics.json records the backend),
 * precompute in-process (libtensorflow loads once per process), and no TensorFlow info line may
 * reach the output. Where the install step did not succeed the test skips with its recorded
 * reason. Under TAILOR_BACKEND=wasm (`npm run test:wasm`) the same pipeline must run on wasm.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO, Workspace } from './helpers/rig.js';
import { makeShapesDataset } from './fixtures/ml/shapes-dataset.js';
import { readNativeInstall } from '../src/ml/native-install.js';

const FOLDER = join(REPO, 'test', 'fixtures', 'ml', 'folder-stage.ts');
const install = readNativeInstall();
const forced = process.env.TAILOR_BACKEND;
const expected =
  forced && forced !== 'auto'
    ? forced
    : install?.status === 'ok'
      ? install.package!.replace('@tensorflow/', '')
      : undefined;
const skip = expected
  ? false
  : `no native backend here: install step ${install ? `${install.status}: ${install.reason ?? ''}` : 'has not run (npm run native-backend)'}`;

const pipeline = (data: string): string => `
stages:
  pad: { uses: ${JSON.stringify(FOLDER)}, params: { dir: ${JSON.stringify(join(data, 'pad'))} } }
  split: { uses: ${JSON.stringify(FOLDER)}, params: { dir: ${JSON.stringify(join(data, 'split'))} } }
  precompute:
    uses: precompute
    needs: [pad, split]
    params: { backbone: tiny, input_size: 32 }
  train-head:
    uses: train-head
    needs: [precompute]
    params: { epochs: 4, batch_size: 16, hidden: [16] }
  fine-tune-backbone:
    uses: fine-tune-backbone
    needs: [pad, split]
    params: { backbone: tiny, input_size: 32, epochs: 3, batch_size: 16, hidden: [16], unfreeze: 1, fine_tune_epochs: 1 }
`;

interface StageMetrics {
  backend?: { name: string; libtensorflow?: string; signature: string };
  precompute?: { workers: number };
}

test(`model stages run on ${expected ?? 'the native backend'} in their own processes`, { skip }, async () => {
  const ws = await Workspace.create('tailor-native-stages-');
  await makeShapesDataset(ws.path('data'), { counts: { train: 40, validation: 16, holdout: 16, test: 6 } });
  await ws.write('pipelines/p.yaml', pipeline(ws.path('data')));
  const run = await ws.run(['pipelines/p.yaml']);
  const output = run.result.stdout + run.result.stderr;
  assert.equal(run.code, 0, output);
  for (const stage of ['precompute', 'train-head', 'fine-tune-backbone']) {
    assert.equal(run.actions[stage], 'ran', `${stage}: ${output}`);
    const show = await ws.tailor(['show', 'pipelines/p.yaml', stage, '--json']);
    const m = (JSON.parse(show.stdout) as { metrics: StageMetrics }).metrics;
    assert.equal(m.backend?.name, expected, `${stage} ran on ${m.backend?.name}`);
    if (expected === 'tfjs-node' || expected === 'tfjs-node-gpu') {
      assert.equal(m.backend?.libtensorflow, install?.libtensorflow?.version);
      assert.match(m.backend!.signature, /libtensorflow .* intra-op threads/);
    }
    if (stage === 'precompute' && expected.startsWith('tfjs-node')) assert.equal(m.precompute?.workers, 0);
  }
  // libtensorflow prints an info line while it loads; the engine keeps it out of the output.
  assert.doesNotMatch(output, /oneDNN custom operations|absl::InitializeLog|cpu_feature_guard/);
  const logs = await readdir(ws.path('cache', 'logs'));
  assert.ok(
    logs.some((f) => f.endsWith('-precompute.log')),
    logs.join(', '),
  );
  for (const f of logs)
    assert.doesNotMatch(await ws.read(join('cache', 'logs', f)), /oneDNN custom operations|absl::Init/);
});
