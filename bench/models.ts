/**
 * Model-stage benchmark: `node --import tsx bench/models.ts` (npm run bench:models).
 *
 *  - precompute images/s with MobileNetV2 at 224 (wasm), 1 and 2 workers, beside PyTorch's
 *    torchvision mobilenet_v2 (random weights, 1 and 2 threads) on the same JPEGs in the same run;
 *  - train-head samples/s for a 1280 -> 256 -> 228 head, beside the same head in PyTorch;
 *  - fine-tune-backbone seconds per epoch for the cached-activation and images routes;
 *  - peak resident memory of each (every measurement runs in its own child process).
 * Writes bench/results/models.json and bench/results/models.md.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const rootDir = join(here, '..');
const IMAGES = Number(process.env.BENCH_IMAGES ?? 400);

type Json = Record<string, unknown>;

/** Converted backbones shared by the child runs (converted once, by the first). */
let modelsDir = '';

/** Run this file in child mode and parse its last stdout line. */
function child(args: string[]): Json {
  const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', ...args], {
    cwd: rootDir,
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    env: { ...process.env, TAILOR_MODELS: modelsDir },
  });
  if (r.status !== 0) throw new Error(`child ${args.join(' ')} failed:\n${(r.stderr ?? '').slice(-3000)}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Json;
}

function python(args: string[]): Json | { error: string } {
  const r = spawnSync('/usr/bin/python3', [join(here, 'torch_mobilenet.py'), ...args], {
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
    const [data, workers] = [args[0]!, Number(args[1])];
    const state = await mkdtemp(join(tmpdir(), 'bench-pre-'));
    const started = Date.now();
    const r = await runStage(
      join(rootDir, 'stages/precompute.ts'),
      { backbone: 'mobilenet_v2', multiscale: false, workers, batch_size: 8 },
      { needs: { pad: join(data, 'pad'), split: join(data, 'split') }, state },
    );
    const seconds = (Date.now() - started) / 1000;
    const m = r.metrics.precompute as { computed: number; seconds: number };
    await rm(state, { recursive: true, force: true });
    return { workers, images: m.computed, seconds, images_per_s: m.computed / seconds, peak_rss_mb: peak() };
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
    const rates = result.history.map((h) => h.samples_per_s);
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
      activations: { seconds: number; computed: number };
      head_phase: { seconds_per_epoch: number };
      fine_tune_phase: { seconds_per_epoch: number; epochs: number };
    };
    await rm(state, { recursive: true, force: true });
    return {
      route,
      activations_seconds: ft.activations.seconds,
      activations: ft.activations.computed,
      head_seconds_per_epoch: ft.head_phase.seconds_per_epoch,
      fine_tune_seconds_per_epoch: ft.fine_tune_phase.seconds_per_epoch,
      peak_rss_mb: peak(),
    };
  }
  throw new Error(`unknown child mode ${mode}`);
}

async function main(): Promise<void> {
  const started = Date.now();
  const load = loadavg().map((v) => Math.round(v * 100) / 100);
  const work = await mkdtemp(join(tmpdir(), 'bench-models-'));
  modelsDir = join(work, 'models');
  const { makeShapesDataset } = await import('../test/fixtures/ml/shapes-dataset.js');
  // Padded-size JPEGs in the layout precompute reads (pad/ + split/).
  const data = join(work, 'data');
  const train = Math.round(IMAGES * 0.6);
  const rest = Math.round(IMAGES * 0.15);
  await makeShapesDataset(data, {
    size: 224,
    counts: { train, validation: rest, holdout: rest, test: IMAGES - train - 2 * rest },
  });
  const imagesDir = join(data, 'pad', 'images');
  // Only decodable images count for torch (the fixture's test split has one HTML file).
  const jpgs = join(work, 'jpgs');
  await mkdir(jpgs);
  const { copyFile } = await import('node:fs/promises');
  const { default: sharp } = await import('sharp');
  for (const f of await readdir(imagesDir)) {
    const ok = await sharp(join(imagesDir, f))
      .metadata()
      .then(
        () => true,
        () => false,
      );
    if (ok) await copyFile(join(imagesDir, f), join(jpgs, f));
  }

  const results: Json = {
    machine: { cores: cpus().length, cpu: cpus()[0]?.model, node: process.version, load_at_start: load },
    images: (await readdir(jpgs)).length,
  };
  console.log(`precompute: ${results.images} JPEGs at 224 px`);
  const pre = [child(['precompute', data, '1']), child(['precompute', data, '2'])];
  const torch = [python(['features', jpgs, '1', '8']), python(['features', jpgs, '2', '8'])];
  results.precompute = pre;
  results.torch_features = torch;
  console.log(JSON.stringify({ pre, torch }));

  console.log('train-head: 1280 -> 256 -> 228');
  const head = child(['head', '4096', '1280', '228', '256', '64', '3']);
  const torchHead = [
    python(['head', '4096', '1280', '228', '256', '64', '3', '1']),
    python(['head', '4096', '1280', '228', '256', '64', '3', '2']),
  ];
  results.head = head;
  results.torch_head = torchHead;
  console.log(JSON.stringify({ head, torchHead }));

  console.log('fine-tune-backbone routes');
  const ft = [child(['fine-tune', data, 'cached']), child(['fine-tune', data, 'images'])];
  results.fine_tune = ft;
  results.fine_tune_train_images = train;
  console.log(JSON.stringify(ft));
  results.seconds = (Date.now() - started) / 1000;

  await rm(work, { recursive: true, force: true });
  const out = join(here, 'results');
  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'models.json'), JSON.stringify(results, null, 2) + '\n');
  await writeFile(join(out, 'models.md'), report(results));
  console.log(`wrote bench/results/models.{json,md} in ${results.seconds} s`);
}

function report(r: Json): string {
  const pre = r.precompute as Array<{ workers: number; images_per_s: number; seconds: number; peak_rss_mb: number }>;
  const torch = r.torch_features as Array<{
    threads?: number;
    images_per_s?: number;
    peak_rss_mb?: number;
    error?: string;
    torch?: string;
  }>;
  const head = r.head as { samples_per_s: number; peak_rss_mb: number; backend: string };
  const torchHead = r.torch_head as Array<{
    threads?: number;
    samples_per_s?: number;
    peak_rss_mb?: number;
    error?: string;
  }>;
  const ft = r.fine_tune as Array<{
    route: string;
    activations_seconds: number;
    activations: number;
    head_seconds_per_epoch: number;
    fine_tune_seconds_per_epoch: number;
    peak_rss_mb: number;
  }>;
  const m = r.machine as { cores: number; cpu: string; node: string; load_at_start: number[] };
  const f = (v: number | undefined, d = 1): string => (v === undefined ? 'n/a' : v.toFixed(d));
  const ratio = (a: number | undefined, b: number | undefined): string => (a && b ? (a / b).toFixed(2) : 'n/a');
  const lines = [
    '# Models benchmark',
    '',
    `Command: \`node --import tsx bench/models.ts\` (npm run bench:models). Machine: ${m.cores} cores (${m.cpu}), Node ${m.node}, tfjs wasm backend (SIMD, one thread per worker); PyTorch ${torch[0]?.torch ?? 'n/a'} from Debian's python3-torch. Load average at start ${JSON.stringify(m.load_at_start)} — the machine is shared with other jobs, so absolute rates are noisy; the ratios come from the same run. Total ${f(r.seconds as number, 0)} s.`,
    '',
    `## precompute: MobileNetV2 features at 224 px, ${r.images} JPEGs`,
    '',
    'tailor: the whole precompute stage (worker start-up, model load — converted from the nsfwjs bundle by the first run, from the cache after —, sharp decode, batches of 8, float16 shards, SQLite item cache), timed end to end. PyTorch: torchvision mobilenet_v2 with random weights, PIL decode + [0,1] scaling + features + global average, batches of 8, after one warm-up forward (start-up excluded, which favours it).',
    '',
    '| run | images/s | peak RSS (MB) |',
    '|---|---|---|',
    ...pre.map((p) => `| tailor precompute, ${p.workers} worker(s) | ${f(p.images_per_s)} | ${f(p.peak_rss_mb, 0)} |`),
    ...torch.map((t, i) =>
      t.error
        ? `| PyTorch, ${i + 1} thread(s) | error: ${t.error} | |`
        : `| PyTorch, ${t.threads} thread(s) | ${f(t.images_per_s)} | ${f(t.peak_rss_mb, 0)} |`,
    ),
    '',
    `Ratio tailor / PyTorch: 1 worker vs 1 thread ${ratio(pre[0]?.images_per_s, torch[0]?.images_per_s)}; 2 workers vs 2 threads ${ratio(pre[1]?.images_per_s, torch[1]?.images_per_s)} (target 0.8).`,
    '',
    '## train-head: dense head 1280 -> 256 -> 228, batch 64, random data (4096 rows, 3 epochs)',
    '',
    '| run | samples/s | peak RSS (MB) |',
    '|---|---|---|',
    `| tailor (${head.backend}, one thread) | ${f(head.samples_per_s, 0)} | ${f(head.peak_rss_mb, 0)} |`,
    ...torchHead.map((t, i) =>
      t.error
        ? `| PyTorch, ${i + 1} thread(s) | error: ${t.error} | |`
        : `| PyTorch, ${t.threads} thread(s) | ${f(t.samples_per_s, 0)} | ${f(t.peak_rss_mb, 0)} |`,
    ),
    '',
    `Ratio tailor / PyTorch (1 thread): ${ratio(head.samples_per_s, torchHead[0]?.samples_per_s)}.`,
    '',
    `## fine-tune-backbone: MobileNetV2, last conv layer (Conv_1, 410k weights) + head, ${r.fine_tune_train_images} training images`,
    '',
    '| route | caching activations (s, all splits) | head epoch (s) | fine-tune epoch (s) | ms per training image | peak RSS (MB) |',
    '|---|---|---|---|---|---|',
    ...ft.map(
      (x) =>
        `| ${x.route} | ${f(x.activations_seconds)} (${x.activations} images) | ${f(x.head_seconds_per_epoch, 2)} | ${f(x.fine_tune_seconds_per_epoch, 2)} | ${f((x.fine_tune_seconds_per_epoch * 1000) / (r.fine_tune_train_images as number), 0)} | ${f(x.peak_rss_mb, 0)} |`,
    ),
    '',
    'cached: activations at the start of the 7x7 stage are computed once (with mirrors) and kept by image hash; each step runs only the trainable tail with matmul-style ops (wasm has no convolution gradients). images: every step decodes, flips and shifts its images and runs the whole frozen trunk before the tail (the route used end to end on tfjs-node).',
    '',
  ];
  return lines.join('\n');
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
