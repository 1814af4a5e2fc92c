/**
 * Benchmark at the challenge's size (`npm run bench:scale -- [--scale F] [--dim D] [--skip-fetch]`):
 * 1,014,544 train, 9,897 validation and 39,706 test images, 228 long-tailed labels, times F.
 *
 * - Pipeline: a synthetic manifest (pad's output format) -> split -> features written in
 *   precompute's output format by the real ShardWriter (labels visible in the features, see
 *   scale-data.ts) -> train-head x2 (1 epoch; a [512] head and a linear one) -> ensemble-pso ->
 *   threshold -> submit. Each stage runs in its own child process through the stage harness:
 *   wall seconds (module loading included) and peak RSS per stage. The submission is scored against
 *   the test images' hidden labels, beside the frequency baseline on the same images.
 * - Fetch + pad: a loopback HTTP server (child process) answering distinct JPEGs, at two sizes
 *   (10,000 and 100,000 entries, times F): images/s and peak RSS, and the ratio of the two RSS.
 * Targets: every stage <= 4 GB peak RSS, whole bench <= 60 min on 2 cores. Results go into
 * bench/results/scale.json (one entry per scale) and scale.md.
 * Child modes: `--write-features SPLIT_DIR OUT_DIR`, `--serve`.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { AddressInfo } from 'node:net';
import { readLabelList } from '../src/formats/manifest.js';
import { parseSubmission } from '../src/formats/submission.js';
import { f1FromCounts } from '../src/ml/metrics.js';
import { distinctPhotos } from '../test/fixtures/data/photos.js';
import { REAL, Synthetic, sizesAt, writeFeatures, writeManifest, type SyntheticSpec } from './scale-data.js';
import { runKey, scaleReport, type ScaleRun, type StageFigure } from './scale-report.js';

const REPO = new URL('..', import.meta.url).pathname;
const argOf = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const SCALE = Number(argOf('scale') ?? 1);
const SPEC: SyntheticSpec = {
  seed: 13,
  labels: REAL.labels,
  dim: Number(argOf('dim') ?? 2288),
  failedShare: 0.004,
  snr: 2.5,
};
const GB = 1024 ** 3;

/** Run a child to completion; its stdout's last "maxrss_kb N" is its peak RSS. */
async function child(args: string[], what: string): Promise<{ stdout: string; seconds: number; rssMb: number }> {
  const t = performance.now();
  const p = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  p.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const [code] = (await once(p, 'exit')) as [number];
  if (code !== 0) throw new Error(`${what} exited ${code}:\n${stderr}`);
  const rss = Number(/maxrss_kb (\d+)/.exec(stdout)?.[1]);
  return { stdout, seconds: (performance.now() - t) / 1000, rssMb: rss / 1024 };
}

/** One stage module in a child process (test/fixtures/data/run-stage.ts); its metrics and figures. */
async function stage(
  name: string,
  module: string,
  params: Record<string, unknown>,
  needs: Record<string, string>,
  root: string,
): Promise<{ out: string; metrics: Record<string, unknown>; figure: StageFigure }> {
  const out = join(root, name);
  const args = ['test/fixtures/data/run-stage.ts', module, JSON.stringify(params), out, join(root, `${name}.state`)];
  const r = await child([...args, JSON.stringify(needs)], name);
  const metrics = JSON.parse(/^done (.*) maxrss_kb/m.exec(r.stdout)?.[1] ?? '{}') as Record<string, unknown>;
  console.log(`${name}: ${r.seconds.toFixed(1)} s, peak RSS ${r.rssMb.toFixed(0)} MB`);
  return { out, metrics, figure: { stage: name, seconds: r.seconds, peak_rss_mb: r.rssMb, loadavg_at_end: load() } };
}

const load = (): number[] => loadavg().map((x) => Math.round(x * 100) / 100);

/**
 * The pipeline's stages, filling `p` as they go and calling `save` after each, so that a run
 * stopped part way (the full size takes an hour or more on a shared 2-core machine) leaves the
 * figures it reached in bench/results.
 */
async function pipeline(
  root: string,
  p: ScaleRun['pipeline'],
  save: (reached: string) => Promise<void>,
): Promise<void> {
  const sizes = p.sizes;
  const data = new Synthetic(SPEC);
  const figures = p.stages;
  const done = async (f: StageFigure): Promise<void> => {
    figures.push(f);
    await save(
      `reached ${figures.map((x) => x.stage.split(' ')[0]).join(', ')}; still running or stopped before the rest`,
    );
  };
  let t = performance.now();
  await writeManifest(join(root, 'pad'), data, sizes);
  console.log(
    `manifest of ${sizes.train + sizes.validation + sizes.test} images: ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );

  const minCount = Math.max(2, Math.round(500 * SCALE));
  const split = await stage(
    'split',
    'stages/split.ts',
    { from: 'pad', holdout_share: 0.5, min_label_count: minCount },
    { pad: join(root, 'pad') },
    root,
  );
  p.min_label_count = minCount;
  p.labels_kept = (split.metrics.labels as { kept: number }).kept;
  await done(split.figure);

  t = performance.now();
  const feat = await child(
    ['bench/scale.ts', '--write-features', split.out, join(root, 'features'), '--dim', String(SPEC.dim)],
    'features',
  );
  await done({
    stage: 'features (bench writer in place of precompute)',
    seconds: feat.seconds,
    peak_rss_mb: feat.rssMb,
    loadavg_at_end: load(),
  });
  console.log(`features: ${feat.seconds.toFixed(1)} s, peak RSS ${feat.rssMb.toFixed(0)} MB`);

  const heads = p.heads;
  const needs: Record<string, string> = { split: split.out };
  for (const [name, hidden] of [
    ['train-head-512', [512]],
    ['train-head-linear', []],
  ] as const) {
    const r = await stage(
      name,
      'stages/train-head.ts',
      { epochs: 1, hidden, dropout: 0.5, loss: 'weighted_bce' },
      { features: join(root, 'features') },
      root,
    );
    heads[name] = {
      holdout_micro_f1: (r.metrics.holdout as { micro_f1: number }).micro_f1,
      samples_per_s: (r.metrics.train as { samples_per_s: number }).samples_per_s,
    };
    await done(r.figure);
    needs[name] = r.out;
  }
  const ens = await stage('ensemble-pso', 'stages/ensemble-pso.ts', { swarm_size: 20, iterations: 30 }, needs, root);
  await done(ens.figure);
  const thr = await stage(
    'threshold',
    'stages/threshold.ts',
    { mode: 'per-label' },
    { split: split.out, 'ensemble-pso': ens.out },
    root,
  );
  await done(thr.figure);
  const sub = await stage(
    'submit',
    'stages/submit.ts',
    { failed: 'priors' },
    { split: split.out, 'ensemble-pso': ens.out, threshold: thr.out },
    root,
  );
  await done(sub.figure);

  const baseline = split.metrics.baseline as { k: number; holdout_micro_f1: number };
  const scored = await scoreSubmission(
    join(sub.out, 'submission.csv'),
    data,
    await readLabelList(split.out),
    baseline.k,
  );
  p.holdout = {
    frequency_baseline_micro_f1: baseline.holdout_micro_f1,
    threshold_micro_f1: (thr.metrics.holdout as { micro_f1: number }).micro_f1,
  };
  p.test = scored;
}

/** Micro-F1 of the submission and of the frequency baseline (top-k train labels) against the hidden truth. */
async function scoreSubmission(
  file: string,
  data: Synthetic,
  kept: string[],
  k: number,
): Promise<ScaleRun['pipeline']['test']> {
  const rows = parseSubmission(await readFile(file, 'utf8'));
  const rank = [...kept].sort((a, b) => data.freq[data.ids.indexOf(b)]! - data.freq[data.ids.indexOf(a)]!);
  const top = new Set(rank.slice(0, k));
  let [tp, fp, fn, btp, bfp, bfn] = [0, 0, 0, 0, 0, 0];
  for (const r of rows) {
    const truth = new Set(data.labels(r.imageId));
    const got = new Set(r.labels);
    for (const l of got)
      if (truth.has(l)) tp++;
      else fp++;
    for (const l of truth) if (!got.has(l)) fn++;
    for (const l of top)
      if (truth.has(l)) btp++;
      else bfp++;
    for (const l of truth) if (!top.has(l)) bfn++;
  }
  return {
    rows: rows.length,
    submission_micro_f1: f1FromCounts(tp, fp, fn),
    frequency_baseline_micro_f1: f1FromCounts(btp, bfp, bfn),
  };
}

/** Fetch then pad `n` entries served by a loopback server child. */
async function fetchPad(root: string, url: string, n: number): Promise<Record<string, unknown>> {
  const dir = join(root, `fetch-${n}`);
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'train.json');
  const out = createWriteStream(file);
  const put = async (s: string): Promise<void> => {
    if (!out.write(s)) await once(out, 'drain');
  };
  await put('{"images":[\n');
  for (let i = 0; i < n; i++) await put(`${i ? ',\n' : ''}{"url":"${url}/img/${i}.jpg","imageId":"${i + 1}"}`);
  await put('\n],"annotations":[\n');
  for (let i = 0; i < n; i++) await put(`${i ? ',\n' : ''}{"labelId":["${(i % 228) + 1}","66"],"imageId":"${i + 1}"}`);
  await put('\n]}\n');
  out.end();
  await once(out, 'finish');
  const f = await stage(
    `fetch-${n}/fetch`,
    'stages/fetch.ts',
    { train: file, concurrency: 64, max_failure_share: 0 },
    {},
    root,
  );
  const ok = (f.metrics as { ok: number }).ok;
  if (ok !== n) throw new Error(`fetch: ${ok} of ${n} images ok`);
  const p = await stage(`fetch-${n}/pad`, 'stages/pad.ts', { size: 224, quality: 85 }, { fetch: f.out }, root);
  await rm(dir, { recursive: true, force: true });
  // images/s by the stage's own clock (module loading in the child excluded), as bench:data does.
  const rate = (r: { figure: StageFigure; metrics: Record<string, unknown> }) => {
    const own = Number(r.metrics.seconds);
    return { ...r.figure, stage_seconds: own, images_per_s: n / own };
  };
  return { images: n, fetch: rate(f), pad: rate(p) };
}

async function serve(): Promise<void> {
  const bases = [...(await distinctPhotos(8)).values()];
  const server = createServer((req, res) => {
    const m = /^\/img\/(\d+)\.jpg$/.exec(req.url ?? '');
    if (!m) return void res.writeHead(404).end();
    const i = Number(m[1]);
    // Distinct bytes per image (after the end-of-image marker), made on the fly: flat server memory.
    const body = Buffer.concat([bases[i % bases.length]!, Buffer.from(`#${i}`)]);
    res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': body.length }).end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  console.log(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  process.stdin.resume();
  process.stdin.on('end', () => server.close(() => process.exit(0)));
}

async function fetchPadBoth(root: string): Promise<ScaleRun['fetch_pad']> {
  const server = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'bench/scale.ts'), '--serve'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve) => createInterface({ input: server.stdout }).once('line', resolve));
  try {
    const small = await fetchPad(root, url, Math.round(10_000 * SCALE));
    const large = await fetchPad(root, url, Math.round(100_000 * SCALE));
    const rss = (r: Record<string, unknown>, s: 'fetch' | 'pad') => (r[s] as StageFigure).peak_rss_mb;
    return {
      small,
      large,
      rss_ratio_large_to_small: {
        fetch: rss(large, 'fetch') / rss(small, 'fetch'),
        pad: rss(large, 'pad') / rss(small, 'pad'),
      },
    };
  } finally {
    server.stdin.end();
    await once(server, 'exit');
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  const root = await mkdtemp(join(argOf('dir') ?? tmpdir(), 'tailor-bench-scale-'));
  const file = join(REPO, 'bench/results/scale.json');
  const key = runKey(SCALE, SPEC.dim);
  // Written after every stage (partial until the end), so a stopped run keeps what it measured.
  const save = async (run: ScaleRun): Promise<void> => {
    run.seconds = (performance.now() - started) / 1000;
    run.loadavg_at_end = load();
    const all = (existsSync(file) ? JSON.parse(await readFile(file, 'utf8')) : { runs: {} }) as {
      runs: Record<string, ScaleRun>;
    };
    all.runs[key] = run;
    await writeFile(file, JSON.stringify(all, null, 2) + '\n');
    await writeFile(join(REPO, 'bench/results/scale.md'), scaleReport(all.runs));
  };
  try {
    const run: ScaleRun = {
      scale: SCALE,
      command: `npm run bench:scale -- ${process.argv.slice(2).join(' ')}`.trim(),
      date: new Date().toISOString(),
      machine: {
        cores: availableParallelism(),
        cpu: cpus()[0]?.model,
        memory_gb: Math.round(totalmem() / GB),
        node: process.version,
        loadavg_at_start: load(),
      },
      pipeline: { sizes: sizesAt(SCALE), dim: SPEC.dim, min_label_count: 0, labels_kept: 0, stages: [], heads: {} },
      partial: 'started',
      seconds: 0,
      loadavg_at_end: [],
    };
    await pipeline(root, run.pipeline, (reached) => save({ ...run, partial: reached }));
    if (!process.argv.includes('--skip-fetch')) {
      await save({ ...run, partial: 'pipeline done; fetch + pad running' });
      run.fetch_pad = await fetchPadBoth(root);
    }
    delete run.partial;
    await save(run);
    console.log(`wrote bench/results/scale.json and scale.md (scale ${SCALE}) in ${run.seconds.toFixed(0)} s`);
  } finally {
    if (!process.argv.includes('--keep')) await rm(root, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--serve') await serve();
else if (process.argv[2] === '--write-features') {
  const [splitDir, out] = process.argv.slice(3) as [string, string];
  await writeFeatures(splitDir, out, new Synthetic(SPEC), await readLabelList(splitDir));
  console.log('maxrss_kb', process.resourceUsage().maxRSS);
} else await main();
