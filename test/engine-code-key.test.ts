/**
 * A code change always takes effect (issue 10.1): every built-in stage that keeps state across
 * runs (mosaic's packed garments, fetch's index, pad's padded images, precompute's features,
 * fine-tune's activations and head checkpoint, train-head's checkpoints) keys it with ctx.codeKey,
 * the stage's code fingerprint. Tested on the real built-in path: tailor's sources are copied to a
 * temporary tailor root, the real CLI runs from there, a helper module a stage imports is edited,
 * and the next run's output must show the change (no hand-bumped version constant involved).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, collect, type CliResult } from './helpers/rig.js';

let root: string; // the temporary tailor root
let ws: string; // the workspace the pipeline runs in

const PIPELINE = `seed: 5
stages:
  mosaic:
    uses: mosaic
    params: { train_images: 36, validation_images: 16, test_images: 6, min_side: 112, max_side: 128, concurrency: 2 }
  fetch:
    uses: fetch
    needs: [mosaic]
    params: { train: train.json, validation: validation.json, test: test.json, max_failure_share: 0.5 }
  pad:
    uses: pad
    needs: [fetch]
    params: { size: 32, preview_images: 0 }
  split:
    uses: split
    needs: [pad, mosaic]
    params: { from: pad, min_label_count: 1 }
  precompute:
    uses: precompute
    needs: [pad, split]
    params: { backbone: tiny, input_size: 32, workers: 0, backend: wasm }
  train-head:
    uses: train-head
    needs: [precompute]
    params: { epochs: 6, patience: 6, hidden: [8], batch_size: 8, backend: wasm }
  fine-tune-backbone:
    uses: fine-tune-backbone
    needs: [pad, split]
    params: { backbone: tiny, input_size: 32, workers: 0, epochs: 3, patience: 3, hidden: [8], fine_tune_epochs: 1, backend: wasm }
`;

/** Run tailor's CLI from the temporary root's sources. */
async function tailor(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'cli.ts'), ...args], {
    cwd: ws,
    env: { ...process.env, CI: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return collect(child);
}

async function run(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const r = await tailor(['run', 'p.yaml', ...args], env);
  return r;
}

async function ok(args: string[], env: Record<string, string> = {}): Promise<void> {
  const r = await run(args, env);
  assert.equal(r.code, 0, `tailor run ${args.join(' ')}:\n${r.stdout}\n${r.stderr}`);
}

async function show(stage: string): Promise<{ out: string; metrics: Record<string, unknown> }> {
  const r = await tailor(['show', 'p.yaml', stage, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { out: string; metrics: Record<string, unknown> };
}

/** Replace `from` (found exactly once) by `to` in a source file of the temporary root; returns the undo. */
async function edit(file: string, from: string, to: string): Promise<() => Promise<void>> {
  const path = join(root, file);
  const text = await readFile(path, 'utf8');
  assert.equal(text.split(from).length, 2, `${file} holds ${from} once`);
  await writeFile(path, text.replace(from, to));
  return () => writeFile(path, text);
}

async function manifestFiles(dir: string): Promise<string[]> {
  const lines = (await readFile(join(dir, 'manifest.jsonl'), 'utf8')).trim().split('\n');
  return lines.map((l) => (JSON.parse(l) as { file?: string }).file).filter((f): f is string => f !== undefined);
}

/** The log of the latest run of a stage. */
async function lastLog(stage: string): Promise<string> {
  const logs = (await readdir(join(ws, 'cache', 'logs'))).filter((f) => f.endsWith(`-${stage}.log`));
  const latest = logs.sort((a, b) => Number(a.split('-')[0]) - Number(b.split('-')[0])).pop();
  assert.ok(latest, `a log of ${stage}`);
  return readFile(join(ws, 'cache', 'logs', latest), 'utf8');
}

test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'tailor-root-'));
  for (const d of ['src', 'stages']) await cp(join(REPO, d), join(root, d), { recursive: true });
  await cp(join(REPO, 'package.json'), join(root, 'package.json'));
  await symlink(join(REPO, 'node_modules'), join(root, 'node_modules'));
  await writeFile(
    join(root, 'cli.ts'),
    "import { main } from './src/cli/main.ts';\nprocess.exitCode = await main(process.argv.slice(2));\n",
  );
  // A way to stop training right after a checkpoint, set from the environment so that the code
  // stays the same between the interrupted run and its resumption.
  await edit(
    'src/ml/trainer.ts',
    '...adam.state(), ...best]);\n',
    "...adam.state(), ...best]);\n      if (process.env.TEST_STOP_AFTER_EPOCH === String(meta.epoch + 1)) throw new Error('test: stopped');\n",
  );
  ws = await mkdtemp(join(tmpdir(), 'tailor-ws-codekey-'));
  await mkdir(ws, { recursive: true });
  await symlink(join(REPO, 'node_modules'), join(ws, 'node_modules')); // resolves `--import tsx` in stage children
  await writeFile(join(ws, 'p.yaml'), PIPELINE);
  await ok([]);
});

// First, while the first run's checkpoints are there (state of other code is removed when a stage runs).
test('train-head and fine-tune: a checkpoint of other training code is never resumed', async () => {
  const resumedAt = async (): Promise<number | null> =>
    ((await show('train-head')).metrics.train as { resumed_at_epoch: number | null }).resumed_at_epoch;
  // Control: interrupted after epoch 2, the same code resumes at epoch 3.
  const stopped = await run(['--stage', 'train-head', '--force', 'train-head'], { TEST_STOP_AFTER_EPOCH: '2' });
  assert.equal(stopped.code, 1, stopped.stdout + stopped.stderr);
  await ok(['--stage', 'train-head', '--force', 'train-head']);
  assert.equal(await resumedAt(), 3);
  // Control: fine-tune keeps its head-phase checkpoint; a fine-tuning param change resumes it.
  await ok(['--stage', 'fine-tune-backbone', '--set', 'fine-tune-backbone.fine_tune_lr=0.0005']);
  assert.match(await lastLog('fine-tune-backbone'), /head: resuming from the checkpoint/);

  // Interrupted again, then the loss code changes: both start over.
  const again = await run(['--stage', 'train-head', '--force', 'train-head'], { TEST_STOP_AFTER_EPOCH: '2' });
  assert.equal(again.code, 1);
  const revert = await edit(
    'src/ml/losses.ts',
    'Math.max(1, Math.sqrt((rows - p) / p))',
    'Math.max(1, 1.5 * Math.sqrt((rows - p) / p))',
  );
  await ok([
    '--stage',
    'train-head',
    '--stage',
    'fine-tune-backbone',
    '--set',
    'fine-tune-backbone.fine_tune_lr=0.0002',
  ]);
  assert.equal(await resumedAt(), null);
  assert.doesNotMatch(await lastLog('fine-tune-backbone'), /resuming from the checkpoint/);
  await revert();
});

test('mosaic: a change to how garments are read is not hidden by its packed cache', async () => {
  const before = await show('mosaic');
  const name = (await readdir(join(before.out, 'images', 'train')))[0]!;
  const image = await readFile(join(before.out, 'images', 'train', name));
  const revert = await edit(
    'src/data/fmnist.ts',
    'rows.forEach((r, i) => pixels.set(r, i * FMNIST_PIXELS));',
    'rows.forEach((r, i) => pixels.set(r.map((v) => 255 - v), i * FMNIST_PIXELS));',
  );
  await ok(['--stage', 'mosaic']);
  const after = await show('mosaic');
  assert.notDeepEqual(await readFile(join(after.out, 'images', 'train', name)), image);
  await revert();
});

test('fetch: changed image checks judge the stored downloads again', async () => {
  const before = await show('fetch');
  const revert = await edit('src/data/image-check.ts', "jpeg: 'jpg',", "jpeg: 'jpeg',");
  await ok(['--stage', 'fetch']);
  const after = await show('fetch');
  assert.equal(after.metrics.rechecked, before.metrics.ok, 'every stored image is checked by the new code');
  const files = await manifestFiles(after.out);
  assert.ok(files.length > 0 && files.every((f) => f.endsWith('.jpeg')), files.slice(0, 3).join(', '));
  await revert();
});

test('pad: a changed padding colour pads every image again', async () => {
  const before = await show('pad');
  const first = (await manifestFiles(before.out))[0]!;
  const revert = await edit(
    'src/data/pad-image.ts',
    'const WHITE = { r: 255, g: 255, b: 255, alpha: 1 };',
    'const WHITE = { r: 0, g: 0, b: 0, alpha: 1 };',
  );
  await ok(['--stage', 'pad']);
  const after = await show('pad');
  assert.equal(after.metrics.padded, (before.metrics.images as number) - (before.metrics.failed as number));
  assert.equal(after.metrics.reused, 0);
  const again = (await manifestFiles(after.out))[0]!;
  assert.notDeepEqual(await readFile(join(after.out, again)), await readFile(join(before.out, first)));
  await revert();
});

test('precompute and fine-tune: changed preprocessing recomputes features and activations', async () => {
  const pre = await show('precompute');
  const revert = await edit(
    'src/ml/image-input.ts',
    'out[offset + i] = rgb[i]! / 255;',
    'out[offset + i] = 1 - rgb[i]! / 255;',
  );
  await ok(['--stage', 'precompute', '--stage', 'fine-tune-backbone']);
  const p = (await show('precompute')).metrics.precompute as { computed: number; reused: number; rows: number };
  assert.equal(p.reused, 0);
  assert.ok(p.computed >= p.rows && p.rows > 0, JSON.stringify(p));
  assert.ok((pre.metrics.precompute as { computed: number }).computed > 0);
  const ft = (await show('fine-tune-backbone')).metrics.fine_tune as {
    activations: { computed: number; reused: number };
  };
  assert.equal(ft.activations.reused, 0);
  assert.ok(ft.activations.computed > 0);
  await revert();
});
