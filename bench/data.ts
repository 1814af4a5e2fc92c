/**
 * Benchmark of the data stages (`node --import tsx bench/data.ts`, results in
 * bench/results/data.json and data.md):
 * - fetch: images/s from a loopback HTTP server (a child process) holding 5,000 distinct JPEGs, at
 *   concurrency 16 and 64, whole stage (JSON passes, decode checks, state index, manifest, links);
 *   then a rerun after adding 10 new URLs;
 * - fetch memory: peak RSS of the stage (in a child process) on iMaterialist files of 100,000 and
 *   1,000,000 entries whose URLs point at a handful of local files, against a plain JSON.parse of
 *   the 1M file;
 * - pad: images/s of the stage against a bare sharp loop doing the same read + pad + resize +
 *   encode + write at its best concurrency, in the same run (target: at least 90%).
 * `--quick` uses smaller sizes for a smoke run; `--only fetch|memory|pad` runs one part and prints
 * it without writing results. `--serve N` is the server child's entry point.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import sharp from 'sharp';
import pMap from 'p-map';
import { padImage } from '../src/data/pad-image.js';
import { writeJsonl } from '../src/formats/jsonl.js';
import { runStage } from '../test/helpers/stage-harness.js';
import { distinctPhotos, photo } from '../test/fixtures/data/photos.js';
import { startFaultServer } from '../test/fixtures/data/fault-server.js';

const QUICK = process.argv.includes('--quick');
const REPO = new URL('..', import.meta.url).pathname;

/** Child entry point: serve N photos and print the URL. */
async function serve(n: number): Promise<void> {
  const server = await startFaultServer({ images: await distinctPhotos(n) });
  console.log(server.url);
  process.stdin.resume();
  process.stdin.on('end', () => void server.close().then(() => process.exit(0)));
}

function machine(): Record<string, unknown> {
  return {
    cores: availableParallelism(),
    cpu: cpus()[0]?.model,
    node: process.version,
    sharp: sharp.versions.sharp,
    vips: sharp.versions.vips,
    loadavg_at_start: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

async function benchFetch(dir: string, n: number): Promise<Record<string, unknown>> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'bench/data.ts'), '--serve', String(n + 10)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve) => createInterface({ input: child.stdout }).once('line', resolve));
  try {
    const write = async (extra: number): Promise<void> => {
      const images = Array.from({ length: n + extra }, (_, i) => ({
        imageId: String(i + 1),
        url: `${url}/img/${i}.jpg`,
      }));
      await writeFile(
        join(dir, 'train.json'),
        JSON.stringify({ images, annotations: images.map((im) => ({ imageId: im.imageId, labelId: ['1', '2'] })) }),
      );
    };
    await write(0);
    const runs: Record<string, unknown> = {};
    let lastState = '';
    for (const concurrency of [16, 64]) {
      lastState = join(dir, `state-${concurrency}`);
      const t = performance.now();
      const run = await runStage(
        'stages/fetch.ts',
        { train: 'train.json', concurrency },
        { workdir: dir, state: lastState },
      );
      const s = (performance.now() - t) / 1000;
      const m = run.metrics as { ok: number; fetched: number };
      if (m.ok !== n) throw new Error(`fetch bench: ${m.ok} of ${n} images ok`);
      runs[`concurrency_${concurrency}`] = { seconds: s, images_per_second: n / s, fetched: m.fetched };
      console.log(`fetch ${n} images at concurrency ${concurrency}: ${s.toFixed(1)} s, ${(n / s).toFixed(0)} images/s`);
    }
    await write(10);
    const t = performance.now();
    const again = await runStage(
      'stages/fetch.ts',
      { train: 'train.json', concurrency: 64 },
      { workdir: dir, state: lastState },
    );
    const s = (performance.now() - t) / 1000;
    const fetched = (again.metrics as { fetched: number }).fetched;
    console.log(`fetch rerun with 10 new URLs: fetched ${fetched} in ${s.toFixed(1)} s`);
    const sample = [...(await distinctPhotos(8)).values()];
    const meanBytes = sample.reduce((a, b) => a + b.length, 0) / sample.length;
    return { images: n, image_bytes_mean: Math.round(meanBytes), ...runs, rerun_10_new: { fetched, seconds: s } };
  } finally {
    child.stdin.end();
    await once(child, 'exit');
  }
}

/** Write an iMaterialist file of n entries over 5 local files, streaming. */
async function bigJson(dir: string, n: number, extraFiles = 0): Promise<string> {
  await mkdir(join(dir, 'img'), { recursive: true });
  for (let i = 0; i < 5 + extraFiles; i++) await writeFile(join(dir, 'img', `${i}.jpg`), await photo(120, 90, 100 + i));
  const file = join(dir, `train-${n}.json`);
  const out = createWriteStream(file);
  const put = async (s: string): Promise<void> => {
    if (!out.write(s)) await once(out, 'drain');
  };
  await put('{"images":[\n');
  for (let i = 0; i < n + extraFiles; i++) {
    const f = i < n ? i % 5 : 5 + (i - n);
    await put(`${i ? ',\n' : ''}{"url":"file:img/${f}.jpg","imageId":"${i + 1}"}`);
  }
  await put('\n],"annotations":[\n');
  for (let i = 0; i < n + extraFiles; i++)
    await put(
      `${i ? ',\n' : ''}{"labelId":["${(i % 228) + 1}","${(i % 7) + 1}","66","105","171"],"imageId":"${i + 1}"}`,
    );
  await put('\n]}\n');
  out.end();
  await once(out, 'finish');
  return file;
}

/** Run a command and return its stdout and peak RSS (kB, from the child's own report). */
async function child(args: string[]): Promise<{ stdout: string; seconds: number }> {
  const t = performance.now();
  const p = spawn(process.execPath, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const [code] = (await once(p, 'exit')) as [number];
  if (code !== 0) throw new Error(`${args.join(' ')} exited ${code}`);
  return { stdout, seconds: (performance.now() - t) / 1000 };
}

async function benchMemory(dir: string, sizes: number[]): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  let largest = '';
  for (const n of sizes) {
    const file = await bigJson(dir, n);
    largest = file;
    const state = join(dir, `mstate-${n}`);
    const params = JSON.stringify({ train: file, max_failure_share: 1 });
    const r = await child([
      '--import',
      'tsx',
      'test/fixtures/data/run-stage.ts',
      'stages/fetch.ts',
      params,
      join(dir, `mout-${n}`),
      state,
    ]);
    const rss = Number(/maxrss_kb (\d+)/.exec(r.stdout)?.[1]);
    out[`entries_${n}`] = { peak_rss_mb: rss / 1024, seconds: r.seconds, entries_per_second: n / r.seconds };
    console.log(`fetch over ${n} entries: peak RSS ${(rss / 1024).toFixed(0)} MB, ${r.seconds.toFixed(1)} s`);
    await rm(join(dir, `mout-${n}`), { recursive: true, force: true });
  }
  const parse = await child([
    '-e',
    `JSON.parse(require('fs').readFileSync(${JSON.stringify(largest)}, 'utf8')); console.log(process.resourceUsage().maxRSS)`,
  ]);
  const naive = Number(parse.stdout.trim()) / 1024;
  out.naive_json_parse_largest = { peak_rss_mb: naive };
  console.log(`plain JSON.parse of the largest file: peak RSS ${naive.toFixed(0)} MB`);
  return out;
}

async function benchPad(dir: string, n: number): Promise<Record<string, unknown>> {
  const src = join(dir, 'pad-in');
  await mkdir(join(src, 'images'), { recursive: true });
  const rows = [];
  for (let i = 0; i < n; i++) {
    const file = `images/${i}.jpg`;
    await writeFile(join(src, file), await photo(560 + (i % 5) * 40, 420 + (i % 3) * 60, 1000 + i));
    rows.push({ imageId: String(i + 1), set: 'train', labels: ['1'], file });
  }
  await writeJsonl(join(src, 'manifest.jsonl'), rows);
  const inputs = rows.map((r) => join(src, r.file));
  const spec = { size: 224, quality: 85 };

  const bare = async (concurrency: number): Promise<number> => {
    const outDir = join(dir, `bare-${concurrency}`);
    await rm(outDir, { recursive: true, force: true });
    await mkdir(outDir, { recursive: true });
    const t = performance.now();
    await pMap(inputs, async (f, i) => writeFile(join(outDir, `${i}.jpg`), await padImage(await readFile(f), spec)), {
      concurrency,
    });
    return n / ((performance.now() - t) / 1000);
  };
  const stage = async (concurrency: number): Promise<number> => {
    const state = await mkdtemp(join(dir, 'pad-state-'));
    // The stage's own clock: everything run() does (manifest count, hashing, store, links, the
    // manifest, the preview grid), not the harness loading the module through tsx.
    const run = await runStage('stages/pad.ts', { ...spec, concurrency }, { needs: { fetch: src }, state });
    const rate = n / (run.metrics as { seconds: number }).seconds;
    await rm(state, { recursive: true, force: true });
    return rate;
  };
  // Interleave repeats so background load hits both sides alike; keep each side's best.
  const bareRates: Record<string, number> = {};
  const stageRates: Record<string, number> = {};
  for (let rep = 0; rep < 3; rep++) {
    for (const c of [2, 4, 8]) bareRates[c] = Math.max(bareRates[c] ?? 0, await bare(c));
    for (const c of [0, 2, 8])
      stageRates[c === 0 ? 'default' : c] = Math.max(stageRates[c === 0 ? 'default' : c] ?? 0, await stage(c));
  }
  const bestBare = Math.max(...Object.values(bareRates));
  const ratio = (stageRates.default ?? 0) / bestBare;
  console.log(
    `pad: bare sharp loop best ${bestBare.toFixed(0)} images/s, stage (default concurrency) ${(stageRates.default ?? 0).toFixed(0)} images/s = ${(ratio * 100).toFixed(0)}%`,
  );
  return {
    images: n,
    input: '560-720 x 420-540 JPEG q85',
    output: '224x224 JPEG q85',
    bare_images_per_second: bareRates,
    stage_images_per_second: stageRates,
    stage_default_vs_best_bare: ratio,
  };
}

const f0 = (x: unknown): string => (typeof x === 'number' ? x.toFixed(0) : '?');
const f1 = (x: unknown): string => (typeof x === 'number' ? x.toFixed(1) : '?');

/** The Markdown summary beside the JSON. */
function report(r: {
  command: string;
  machine: Record<string, unknown>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- bench rows of many shapes, printed only
  fetch: Record<string, any>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  fetch_memory: Record<string, any>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  pad: Record<string, any>;
  seconds: number;
}): string {
  const mem = Object.entries(r.fetch_memory).filter(([k]) => k.startsWith('entries_'));
  const lines = [
    '# Data stages benchmark',
    '',
    `Command: \`${r.command}\` (also \`npm run bench:data\`). Machine: ${r.machine.cores} cores (${String(r.machine.cpu)}), Node ${String(r.machine.node)}, sharp ${String(r.machine.sharp)} / libvips ${String(r.machine.vips)}; load average at start ${JSON.stringify(r.machine.loadavg_at_start)} (the machine is shared, so absolute rates are noisy; ratios come from the same run). Total ${f0(r.seconds)} s.`,
    '',
    '## fetch throughput (loopback HTTP server in a child process)',
    '',
    `${r.fetch.images} distinct JPEGs of about ${f0(r.fetch.image_bytes_mean)} bytes (480-592 x 360-416 px); whole stage: three streamed passes over the JSON, HTTP GET with keep-alive, full decode check, content-addressed store, SQLite index, manifest and hard links.`,
    '',
    '| concurrency | seconds | images/s |',
    '|---|---|---|',
    ...['concurrency_16', 'concurrency_64'].map(
      (k) => `| ${k.split('_')[1]} | ${f1(r.fetch[k]?.seconds)} | ${f0(r.fetch[k]?.images_per_second)} |`,
    ),
    '',
    `Rerun after adding 10 new URLs: fetched ${r.fetch.rerun_10_new?.fetched}, ${f1(r.fetch.rerun_10_new?.seconds)} s.`,
    '',
    '## fetch memory (iMaterialist file whose URLs point at 5 local files)',
    '',
    '| entries | peak RSS (MB) | seconds | entries/s |',
    '|---|---|---|---|',
    ...mem.map(
      ([k, v]) =>
        `| ${k.slice('entries_'.length)} | ${f0(v.peak_rss_mb)} | ${f1(v.seconds)} | ${f0(v.entries_per_second)} |`,
    ),
    '',
    `Baseline, same run: a plain \`JSON.parse\` of the largest file peaks at ${f0(r.fetch_memory.naive_json_parse_largest?.peak_rss_mb)} MB.`,
    '',
    '## pad (224 px, JPEG q85) against a bare sharp loop',
    '',
    `${r.pad.images} inputs (${r.pad.input}). The bare loop reads each file, runs the same sharp pipeline (rotate, flatten, contain-resize on white, JPEG) and writes the result, at its best concurrency; the stage (timed by its own clock, module loading excluded) adds hashing, the state store, hard links, the in-order manifest and the preview grid. Best of three interleaved repeats each.`,
    '',
    '| what | concurrency | images/s |',
    '|---|---|---|',
    ...Object.entries(r.pad.bare_images_per_second as Record<string, number>).map(
      ([c, v]) => `| bare sharp loop | ${c} | ${f0(v)} |`,
    ),
    ...Object.entries(r.pad.stage_images_per_second as Record<string, number>).map(
      ([c, v]) => `| pad stage | ${c === 'default' ? 'default (2 per core)' : c} | ${f0(v)} |`,
    ),
    '',
    `Stage at its default concurrency / best bare loop: **${f0((r.pad.stage_default_vs_best_bare as number) * 100)}%** (target: at least 90%).`,
    '',
  ];
  return lines.join('\n');
}

/** `--only fetch|memory|pad`: run one part and print it, writing no result files. */
async function only(part: string, dir: string): Promise<void> {
  const run: Record<string, () => Promise<Record<string, unknown>>> = {
    fetch: () => benchFetch(dir, QUICK ? 500 : 5000),
    memory: () => benchMemory(dir, QUICK ? [10_000, 50_000] : [100_000, 1_000_000]),
    pad: () => benchPad(dir, QUICK ? 60 : 400),
  };
  const fn = run[part];
  if (!fn) throw new Error(`--only takes one of ${Object.keys(run).join(', ')}`);
  console.log(JSON.stringify({ machine: machine(), [part]: await fn() }, null, 2));
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tailor-bench-data-'));
  const started = performance.now();
  const onlyAt = process.argv.indexOf('--only');
  if (onlyAt > 0) {
    try {
      await only(process.argv[onlyAt + 1] ?? '', dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    return;
  }
  try {
    const results = {
      command: `node --import tsx bench/data.ts${QUICK ? ' --quick' : ''}`,
      machine: machine(),
      fetch: await benchFetch(dir, QUICK ? 500 : 5000),
      fetch_memory: await benchMemory(dir, QUICK ? [10_000, 50_000] : [100_000, 1_000_000]),
      pad: await benchPad(dir, QUICK ? 60 : 400),
      seconds: 0,
    };
    results.seconds = (performance.now() - started) / 1000;
    await mkdir(join(REPO, 'bench/results'), { recursive: true });
    const name = QUICK ? 'data-quick' : 'data';
    await writeFile(join(REPO, `bench/results/${name}.json`), JSON.stringify(results, null, 2) + '\n');
    await writeFile(join(REPO, `bench/results/${name}.md`), report(results));
    console.log(`wrote bench/results/${name}.json in ${results.seconds.toFixed(0)} s`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--serve') await serve(Number(process.argv[3]));
else await main();
