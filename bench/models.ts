/**
 * Model-stage benchmark: `node --import tsx bench/models.ts` (npm run bench:models).
 *
 * tfjs-node, wasm and PyTorch side by side, every measurement in its own child process:
 *  - precompute images/s: MobileNetV2 at 224 and InceptionV3 at 299 — tailor on tfjs-node
 *    (in-process), on wasm with 1 and 2 workers, PyTorch (torchvision, random weights) with 1 and
 *    2 threads, on the same JPEGs;
 *  - train-head samples/s for a 1280 -> 256 -> 228 head, tailor on tfjs-node and wasm, PyTorch
 *    with 1 and 2 threads;
 *  - fine-tune-backbone seconds per epoch on the default backend (phase 2 of issue 12 reworks it);
 *  - peak resident memory of each.
 * Writes bench/results/models.json and bench/results/models.md (see bench/models-report.ts).
 */
import { spawnSync } from 'node:child_process';
import { copyFile, mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { report, type Json } from './models-report.js';

const here = dirname(fileURLToPath(import.meta.url));
const rootDir = join(here, '..');
const IMAGES = Number(process.env.BENCH_IMAGES ?? 400);
const INCEPTION_IMAGES = Number(process.env.BENCH_INCEPTION_IMAGES ?? 120);

/** Converted backbones shared by the child runs (converted once, by a warm-up run). */
let modelsDir = '';

/** Run this file in child mode and parse its last stdout line; a failure is recorded, not thrown. */
function child(args: string[], env: Record<string, string> = {}): Json {
  const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', ...args], {
    cwd: rootDir,
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    env: { ...process.env, TAILOR_MODELS: modelsDir, ...env },
  });
  if (r.status !== 0) return { error: (r.stderr ?? '').trim().split('\n').slice(-2).join(' ') };
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Json;
}

function python(args: string[]): Json {
  const r = spawnSync('/usr/bin/python3', [join(here, 'torch_models.py'), ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0)
    return { error: (r.stderr || r.stdout || 'python3 failed').trim().split('\n').slice(-3).join(' ') };
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Json;
}

const peak = (): number => process.resourceUsage().maxRSS / 1024;

async function childMain(mode: string, args: string[]): Promise<Json> {
  const { runStage } = await import('../test/helpers/stage-harness.js');
  if (mode === 'precompute') {
    const [data, backbone, workers] = [args[0]!, args[1]!, args[2]!];
    const state = await mkdtemp(join(tmpdir(), 'bench-pre-'));
    const started = Date.now();
    const r = await runStage(
      join(rootDir, 'stages/precompute.ts'),
      { backbone, multiscale: false, workers: workers === 'auto' ? 'auto' : Number(workers), batch_size: 8 },
      { needs: { pad: join(data, 'pad'), split: join(data, 'split') }, state },
    );
    const seconds = (Date.now() - started) / 1000;
    const m = r.metrics.precompute as { computed: number; workers: number };
    await rm(state, { recursive: true, force: true });
    const backend = (r.metrics.backend as { name: string } | undefined)?.name;
    return {
      backbone,
      backend,
      workers: m.workers,
      images: m.computed,
      seconds,
      images_per_s: m.computed / seconds,
      peak_rss_mb: peak(),
    };
  }
  if (mode === 'head') {
    const [rows, dim, labels, hidden, batch, epochs] = args.map(Number) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const { useBackend } = await import('../src/ml/backend.js');
    const { DenseHead } = await import('../src/ml/dense-head.js');
    const { FeatureMatrix } = await import('../src/formats/features.js');
    const { headStepLoss, evaluateHead } = await import('../src/ml/head-task.js');
    const { train } = await import('../src/ml/trainer.js');
    const { mulberry32 } = await import('../src/random.js');
    const b = await useBackend('auto');
    const rand = mulberry32(1);
    const x = Float32Array.from({ length: rows * dim }, () => rand());
    const y = Uint8Array.from({ length: rows * labels }, () => (rand() < 0.03 ? 1 : 0));
    const head = DenseHead.create(b.tf, { inputDim: dim, hidden: [hidden], dropout: 0.5, labels }, 1);
    const set = { x: new FeatureMatrix(rows, dim, x), y };
    const loss = { name: 'bce' as const, gamma: 2 };
    const small = { x: new FeatureMatrix(64, dim, x.subarray(0, 64 * dim)), y: y.subarray(0, 64 * labels) };
    const result = await train({
      tf: b.tf,
      epochs,
      batchSize: batch,
      lr: 1e-3,
      lrFactor: 0.5,
      lrPatience: 100,
      minLr: 0,
      patience: 100,
      monitor: 'val_loss',
      phase: 'head',
      params: head.variables,
      nTrain: rows,
      seed: 1,
      stepLoss: headStepLoss(b.tf, head, loss, set),
      validate: () => evaluateHead(b.tf, head, loss, small),
    });
    // The first epoch includes kernel warm-up on every backend: rate over the later ones.
    const rates = result.history.slice(1).map((h) => h.samples_per_s);
    return {
      backend: b.name,
      rows,
      dim,
      labels,
      hidden,
      batch,
      epochs,
      samples_per_s: rates.reduce((s, r) => s + r, 0) / rates.length,
      peak_rss_mb: peak(),
    };
  }
  if (mode === 'fine-tune') {
    const [data, route] = [args[0]!, args[1]!];
    const state = await mkdtemp(join(tmpdir(), 'bench-ft-'));
    const r = await runStage(
      join(rootDir, 'stages/fine-tune-backbone.ts'),
      { backbone: 'mobilenet_v2', route, epochs: 3, fine_tune_epochs: 2, fine_tune_patience: 5, unfreeze: 1 },
      { needs: { pad: join(data, 'pad'), split: join(data, 'split') }, state },
    );
    const ft = r.metrics.fine_tune as {
      backend: string;
      activations: { seconds: number; computed: number };
      head_phase: { seconds_per_epoch: number };
      fine_tune_phase: { seconds_per_epoch: number; epochs: number };
    };
    await rm(state, { recursive: true, force: true });
    return {
      route,
      backend: ft.backend,
      activations_seconds: ft.activations.seconds,
      activations: ft.activations.computed,
      head_seconds_per_epoch: ft.head_phase.seconds_per_epoch,
      fine_tune_seconds_per_epoch: ft.fine_tune_phase.seconds_per_epoch,
      peak_rss_mb: peak(),
    };
  }
  throw new Error(`unknown child mode ${mode}`);
}

/** Shapes JPEGs at `size` px in precompute's layout, and a folder of the decodable ones for PyTorch. */
async function dataset(
  work: string,
  name: string,
  size: number,
  images: number,
): Promise<{ data: string; jpgs: string; count: number }> {
  const { makeShapesDataset } = await import('../test/fixtures/ml/shapes-dataset.js');
  const { default: sharp } = await import('sharp');
  const data = join(work, name);
  const train = Math.round(images * 0.6);
  const rest = Math.round(images * 0.15);
  await makeShapesDataset(data, {
    size,
    counts: { train, validation: rest, holdout: rest, test: images - train - 2 * rest },
  });
  const imagesDir = join(data, 'pad', 'images');
  // Only decodable images count for torch (the fixture's test split has one HTML file).
  const jpgs = join(work, `${name}-jpgs`);
  await mkdir(jpgs);
  for (const f of await readdir(imagesDir)) {
    const ok = await sharp(join(imagesDir, f))
      .metadata()
      .then(
        () => true,
        () => false,
      );
    if (ok) await copyFile(join(imagesDir, f), join(jpgs, f));
  }
  return { data, jpgs, count: (await readdir(jpgs)).length };
}

const NATIVE = { TAILOR_BACKEND: 'tfjs-node' };
const WASM = { TAILOR_BACKEND: 'wasm' };

async function main(): Promise<void> {
  const started = Date.now();
  const load = loadavg().map((v) => Math.round(v * 100) / 100);
  const work = await mkdtemp(join(tmpdir(), 'bench-models-'));
  modelsDir = join(work, 'models');
  const results: Json = {
    machine: { cores: cpus().length, cpu: cpus()[0]?.model, node: process.version, load_at_start: load },
  };
  const precompute: Json[] = [];
  for (const [backbone, size, n] of [
    ['mobilenet_v2', 224, IMAGES],
    ['inception_v3', 299, INCEPTION_IMAGES],
  ] as const) {
    const set = await dataset(work, backbone, size, n);
    console.log(`precompute ${backbone}: ${set.count} JPEGs at ${size} px`);
    child(['precompute', set.data, backbone, '0'], WASM); // converts the model into modelsDir once
    const runs = [
      { run: 'tailor, tfjs-node (in-process)', ...child(['precompute', set.data, backbone, 'auto'], NATIVE) },
      { run: 'tailor, wasm, 1 worker', ...child(['precompute', set.data, backbone, '1'], WASM) },
      { run: 'tailor, wasm, 2 workers', ...child(['precompute', set.data, backbone, '2'], WASM) },
      { run: 'PyTorch, 1 thread', ...python(['features', set.jpgs, '1', '8', backbone, String(size)]) },
      { run: 'PyTorch, 2 threads', ...python(['features', set.jpgs, '2', '8', backbone, String(size)]) },
    ];
    precompute.push({ backbone, size, images: set.count, runs });
    console.log(JSON.stringify(runs));
  }
  results.precompute = precompute;

  console.log('train-head: 1280 -> 256 -> 228');
  const headArgs = ['4096', '1280', '228', '256', '64', '4'];
  results.head = [
    { run: 'tailor, tfjs-node', ...child(['head', ...headArgs], NATIVE) },
    { run: 'tailor, wasm (one thread)', ...child(['head', ...headArgs], WASM) },
    { run: 'PyTorch, 1 thread', ...python(['head', ...headArgs, '1']) },
    { run: 'PyTorch, 2 threads', ...python(['head', ...headArgs, '2']) },
  ];
  console.log(JSON.stringify(results.head));

  console.log('fine-tune-backbone routes (default backend)');
  const ftData = join(work, 'mobilenet_v2');
  results.fine_tune = [child(['fine-tune', ftData, 'cached']), child(['fine-tune', ftData, 'images'])];
  results.fine_tune_train_images = Math.round(IMAGES * 0.6);
  console.log(JSON.stringify(results.fine_tune));
  results.seconds = (Date.now() - started) / 1000;

  await rm(work, { recursive: true, force: true });
  const out = join(here, 'results');
  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'models.json'), JSON.stringify(results, null, 2) + '\n');
  await writeFile(join(out, 'models.md'), report(results));
  console.log(`wrote bench/results/models.{json,md} in ${results.seconds} s`);
}

if (process.argv[2] === '--child') {
  childMain(process.argv[3]!, process.argv.slice(4)).then(
    (r) => {
      console.log(JSON.stringify(r));
      // wasm keeps handles open in some versions: leave explicitly once the answer is out.
      process.exit(0);
    },
    (e: unknown) => {
      console.error((e as Error).stack ?? String(e));
      process.exit(1);
    },
  );
} else {
  main().catch((e: unknown) => {
    console.error((e as Error).stack ?? String(e));
    process.exit(1);
  });
}
