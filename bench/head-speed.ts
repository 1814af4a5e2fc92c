/**
 * train-head before/after (`npm run bench:head-speed -- --baseline DIR [--scale F] [--rounds N]`):
 * the train-head stage of this checkout against the same stage of another checkout of tailor (DIR,
 * with its node_modules), on the same synthetic features of bench:scale at full width (2,288
 * float16 features, 228 long-tailed labels; scale F of the challenge's 1,014,544 train images),
 * for the [512] head and the linear head of bench:scale (1 epoch, weighted BCE, dropout 0.5).
 *
 * The machine is shared, so runs alternate (baseline, this, this, baseline, ...) and the report
 * gives the ratio of the medians beside each run; the outputs of both are compared byte for byte
 * (model weights and predictions), which says whether the change altered what is learned.
 * Then where one step's time goes (bench/head-step.ts in child processes, this checkout only) at
 * batch 64 and 256, for both heads. `--steps-only` runs just that part, `--ab-only` just the first;
 * the other part's figures already in the results are kept; `--report-only` rewrites the Markdown
 * from the JSON.
 * Results: bench/results/head-speed.json and head-speed.md.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { readFile, readdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readLabelList } from '../src/formats/manifest.js';
import { REAL, Synthetic, sizesAt, writeFeatures, writeManifest, type SyntheticSpec } from './scale-data.js';

const REPO = new URL('..', import.meta.url).pathname;
const argOf = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const BASELINE = argOf('baseline');
const SCALE = Number(argOf('scale') ?? 0.02);
const ROUNDS = Number(argOf('rounds') ?? 2);
const SPEC: SyntheticSpec = { seed: 13, labels: REAL.labels, dim: 2288, failedShare: 0.004, snr: 2.5 };
const HEADS = [
  ['512', [512]],
  ['linear', []],
] as const;
const load = (): number[] => loadavg().map((x) => Math.round(x * 100) / 100);

interface Run {
  code: 'baseline' | 'this';
  head: string;
  seconds: number;
  samples_per_s: number;
  loadavg: number[];
}

/** One stage run in a child process from `repo`; its wall seconds and the metrics it reported. */
async function runStage(
  repo: string,
  module: string,
  params: unknown,
  out: string,
  needs: Record<string, string>,
): Promise<{ seconds: number; metrics: Record<string, unknown> }> {
  const t = performance.now();
  const args = [
    '--import',
    'tsx',
    'test/fixtures/data/run-stage.ts',
    module,
    JSON.stringify(params),
    out,
    `${out}.state`,
  ];
  const p = spawn(process.execPath, [...args, JSON.stringify(needs)], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  p.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const [code] = (await once(p, 'exit')) as [number];
  if (code !== 0) throw new Error(`${module} in ${repo} exited ${code}:\n${stderr}`);
  const metrics = JSON.parse(/^done (.*) maxrss_kb/m.exec(stdout)?.[1] ?? '{}') as Record<string, unknown>;
  return { seconds: (performance.now() - t) / 1000, metrics };
}

/** The learned outputs of a train-head folder (metrics.json and epochs.jsonl hold timings: left out). */
async function learned(dir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const f of ['pred-validation.f32', 'pred-holdout.f32', 'pred-test.f32', 'predictions.json'])
    files.set(f, await readFile(join(dir, f)));
  for (const f of await readdir(join(dir, 'model'))) files.set(`model/${f}`, await readFile(join(dir, 'model', f)));
  return files;
}

function sameBytes(a: Map<string, Buffer>, b: Map<string, Buffer>): string[] {
  const differ: string[] = [];
  for (const k of new Set([...a.keys(), ...b.keys()]))
    if (!a.get(k)?.equals(b.get(k) ?? Buffer.alloc(0))) differ.push(k);
  return differ;
}

interface StepFigure {
  batch: number;
  hidden: number[];
  ms_per_step: Record<string, number>;
  samples_per_s: number;
}

/** Per-step breakdowns, each configuration run `rounds` times in turn; the median run of each by samples/s. */
async function stepFigures(root: string, rounds: number): Promise<StepFigure[]> {
  const configs = [
    [64, [512]],
    [256, [512]],
    [64, []],
    [256, []],
  ] as const;
  const got = new Map<string, StepFigure[]>();
  for (let r = 0; r < rounds; r++)
    for (const [batch, hidden] of configs) {
      const args = [
        '--import',
        'tsx',
        'bench/head-step.ts',
        String(batch),
        JSON.stringify(hidden),
        join(root, 'rows.f16'),
      ];
      const p = spawn(process.execPath, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
      let stdout = '';
      p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      const [code] = (await once(p, 'exit')) as [number];
      if (code !== 0) throw new Error(`bench/head-step.ts ${batch} exited ${code}`);
      const f = JSON.parse(stdout.trim().split('\n').at(-1)!) as StepFigure;
      console.log(`step, batch ${batch}, hidden ${JSON.stringify(hidden)}: ${f.samples_per_s.toFixed(0)} samples/s`);
      const key = `${batch} ${JSON.stringify(hidden)}`;
      got.set(key, [...(got.get(key) ?? []), f]);
    }
  return [...got.values()].map(
    (fs) => [...fs].sort((a, b) => a.samples_per_s - b.samples_per_s)[(fs.length - 1) >> 1]!,
  );
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const file = join(REPO, 'bench/results/head-speed.json');
  const result = (existsSync(file) ? JSON.parse(await readFile(file, 'utf8')) : {}) as Results;
  if (process.argv.includes('--report-only')) {
    await writeFile(join(REPO, 'bench/results/head-speed.md'), report(result));
    return;
  }
  const root = await mkdtemp(join(argOf('dir') ?? tmpdir(), 'tailor-bench-head-speed-'));
  try {
    if (!process.argv.includes('--steps-only')) result.ab = await abRuns(root);
    if (!process.argv.includes('--ab-only'))
      result.steps = {
        command: `npm run bench:head-speed -- ${process.argv.slice(2).join(' ')}`,
        date: new Date().toISOString(),
        loadavg_at_start: load(),
        rounds: ROUNDS,
        figures: await stepFigures(root, ROUNDS),
        loadavg_at_end: load(),
      };
    await writeFile(file, JSON.stringify(result, null, 2) + '\n');
    await writeFile(join(REPO, 'bench/results/head-speed.md'), report(result));
    console.log('wrote bench/results/head-speed.json and head-speed.md');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

interface AbResult {
  command: string;
  baseline: string;
  scale: number;
  train_rows: number;
  dim: number;
  machine: Record<string, unknown>;
  started: { date: string; loadavg: number[] };
  loadavg_at_end: number[];
  summary: Array<Record<string, unknown>>;
  runs: Run[];
}

interface Results {
  ab?: AbResult;
  steps?: {
    command: string;
    date: string;
    loadavg_at_start: number[];
    figures: StepFigure[];
    loadavg_at_end: number[];
  };
}

/** The alternating runs of the stage from both checkouts, and whether their learned outputs are the same bytes. */
async function abRuns(root: string): Promise<AbResult> {
  if (!BASELINE)
    throw new Error('usage: bench/head-speed.ts --baseline DIR [--scale F] [--rounds N] (or --steps-only)');
  const baseline = resolve(BASELINE);
  const data = new Synthetic(SPEC);
  await writeManifest(join(root, 'pad'), data, sizesAt(SCALE));
  const minCount = Math.max(2, Math.round(500 * SCALE));
  const split = join(root, 'split');
  await runStage(REPO, 'stages/split.ts', { from: 'pad', holdout_share: 0.5, min_label_count: minCount }, split, {
    pad: join(root, 'pad'),
  });
  await writeFeatures(split, join(root, 'features'), data, await readLabelList(split));
  const started = { date: new Date().toISOString(), loadavg: load() };

  const runs: Run[] = [];
  const differ: Record<string, string[]> = {};
  for (const [head, hidden] of HEADS) {
    const params = { epochs: 1, hidden, dropout: 0.5, loss: 'weighted_bce' };
    const outputs: Partial<Record<Run['code'], string>> = {};
    for (let r = 0; r < ROUNDS; r++) {
      // ABBA order: neither side always runs first (a warmer page cache, a quieter minute).
      const order: Array<Run['code']> = r % 2 ? ['this', 'baseline'] : ['baseline', 'this'];
      for (const code of order) {
        const out = join(root, `${head}-${code}-${r}`);
        const res = await runStage(code === 'this' ? REPO : baseline, 'stages/train-head.ts', params, out, {
          features: join(root, 'features'),
        });
        const sps = (res.metrics.train as { samples_per_s: number }).samples_per_s;
        runs.push({ code, head, seconds: res.seconds, samples_per_s: sps, loadavg: load() });
        console.log(`${head} ${code} round ${r}: ${res.seconds.toFixed(1)} s, ${sps.toFixed(0)} samples/s`);
        outputs[code] ??= out;
      }
    }
    differ[head] = sameBytes(await learned(outputs.baseline!), await learned(outputs.this!));
  }

  const summary = HEADS.map(([head]) => {
    const of = (code: Run['code'], k: 'seconds' | 'samples_per_s') =>
      median(runs.filter((r) => r.head === head && r.code === code).map((r) => r[k]));
    return {
      head,
      baseline_samples_per_s: of('baseline', 'samples_per_s'),
      this_samples_per_s: of('this', 'samples_per_s'),
      speedup_training_loop: of('this', 'samples_per_s') / of('baseline', 'samples_per_s'),
      baseline_stage_seconds: of('baseline', 'seconds'),
      this_stage_seconds: of('this', 'seconds'),
      speedup_stage: of('baseline', 'seconds') / of('this', 'seconds'),
      learned_outputs_identical: differ[head]!.length === 0,
      differing_files: differ[head],
    };
  });
  return {
    command: `npm run bench:head-speed -- ${process.argv.slice(2).join(' ')}`,
    baseline,
    scale: SCALE,
    train_rows: sizesAt(SCALE).train,
    dim: SPEC.dim,
    machine: { cores: cpus().length, cpu: cpus()[0]?.model, node: process.version },
    started,
    loadavg_at_end: load(),
    summary,
    runs,
  };
}

function report(res: Results): string {
  const f = (x: unknown, d = 0) => (x as number).toFixed(d);
  const lines = ['# bench:head-speed — where train-head spends its time, and this checkout against a baseline', ''];
  const r = res.ab;
  if (r)
    lines.push(
      '## The stage, this checkout against the baseline',
      '',
      `Command: \`${r.command}\`, ${r.started.date}; baseline ${r.baseline}. ${r.train_rows.toLocaleString('en')} train rows x 2,288 float16 features (bench:scale's synthetic data), 1 epoch, batch 64, tfjs-node. Machine: ${JSON.stringify(r.machine)}, shared with other work: load average ${r.started.loadavg.join(', ')} at the start, ${r.loadavg_at_end.join(', ')} at the end, so absolute figures are inflated and noisy (the same code varies 2-7x between runs here); runs alternate between the two checkouts and the ratio of medians is the figure to read.`,
      '',
      '| head | baseline samples/s | this samples/s | loop speed-up | baseline stage s | this stage s | stage speed-up | learned outputs identical |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
      ...r.summary.map(
        (s) =>
          `| ${String(s.head)} | ${f(s.baseline_samples_per_s)} | ${f(s.this_samples_per_s)} | ${f(s.speedup_training_loop, 2)}x | ${f(s.baseline_stage_seconds, 1)} | ${f(s.this_stage_seconds, 1)} | ${f(s.speedup_stage, 2)}x | ${s.learned_outputs_identical ? 'yes (model and predictions byte for byte)' : `no: ${(s.differing_files as string[]).join(', ')}`} |`,
      ),
      '',
      'Runs, in order:',
      '',
      '| head | code | stage seconds | samples/s | load average after |',
      '| --- | --- | ---: | ---: | --- |',
      ...r.runs.map(
        (x) => `| ${x.head} | ${x.code} | ${f(x.seconds, 1)} | ${f(x.samples_per_s)} | ${x.loadavg.join(', ')} |`,
      ),
      '',
    );
  const st = res.steps;
  if (st) {
    const keys = Object.keys(st.figures[0]?.ms_per_step ?? {});
    lines.push(
      "## One training step, part by part (bench/head-step.ts: train-head's own code, 2,288 float16 features -> 190 labels)",
      '',
      `Command: \`${st.command}\`, ${st.date}; load average ${st.loadavg_at_start.join(', ')} at the start, ${st.loadavg_at_end.join(', ')} at the end. Milliseconds per step (the median run of ${st.rounds} by samples/s, the slower middle one for an even count; 100 steps each after 10 of warm-up). Each part as train-head runs it; absolute figures are inflated by the load, the shares and the batch-size ratio are what to read.`,
      '',
      `| batch | hidden | ${keys.join(' | ')} | samples/s |`,
      `| ---: | --- | ${keys.map(() => '---:').join(' | ')} | ---: |`,
      ...st.figures.map(
        (x) =>
          `| ${x.batch} | ${JSON.stringify(x.hidden)} | ${keys.map((k) => f(x.ms_per_step[k], 2)).join(' | ')} | ${f(x.samples_per_s)} |`,
      ),
      '',
    );
  }
  return lines.join('\n');
}

await main();
