/**
 * Engine benchmark: no-op status / dry-run of 1,000-stage DAGs (a chain and a wide fan-out), a
 * stage depending on a folder of 100,000 small files, and the per-stage overhead of really
 * running a chain of 100 trivial commands from scratch, for tailor, Snakemake and GNU make in one
 * run.
 *
 *   npm run bench:engine            (writes bench/results/engine.{json,md})
 *   BENCH_STAGES=200 BENCH_FILES=10000 npm run bench:engine   (a quicker, smaller run)
 *   BENCH_ONLY=run npm run bench:engine   (only the 100-stage run: bench/results/engine-run.{json,md})
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(fileURLToPath(import.meta.url), '../..');
const TAILOR = join(REPO, 'bin', 'tailor');
const STAGES = Number(process.env.BENCH_STAGES ?? 1000);
const FILES = Number(process.env.BENCH_FILES ?? 100_000);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 5);
const RUN_STAGES = Number(process.env.BENCH_RUN_STAGES ?? 100);
/** `run` for only the chain run, `status` for only the no-op cases; both by default. */
const ONLY = process.env.BENCH_ONLY;

type Shape = 'chain' | 'wide';

function parentOf(shape: Shape, i: number): number | undefined {
  if (i === 0) return undefined;
  return shape === 'chain' ? i - 1 : 0;
}

function tailorYaml(shape: Shape, stages = STAGES): string {
  const lines = ['stages:'];
  for (let i = 0; i < stages; i++) {
    const p = parentOf(shape, i);
    lines.push(`  s${i}:`, `    cmd: "echo ${i} > \${out}/o"`);
    if (p !== undefined) lines.push(`    needs: [s${p}]`);
  }
  return lines.join('\n') + '\n';
}

function snakefile(shape: Shape, stages = STAGES): string {
  const rules = [`rule all:\n    input: ${JSON.stringify(Array.from({ length: stages }, (_, i) => `o/s${i}`))}\n`];
  for (let i = 0; i < stages; i++) {
    const p = parentOf(shape, i);
    rules.push(
      `rule s${i}:\n${p !== undefined ? `    input: "o/s${p}"\n` : ''}    output: "o/s${i}"\n    shell: "echo ${i} > {output}"\n`,
    );
  }
  return rules.join('\n');
}

function makefile(shape: Shape): string {
  const out = [`all: ${Array.from({ length: STAGES }, (_, i) => `o/s${i}`).join(' ')}\n`];
  for (let i = 0; i < STAGES; i++) {
    const p = parentOf(shape, i);
    out.push(`o/s${i}:${p !== undefined ? ` o/s${p}` : ''}\n\t@mkdir -p o && echo ${i} > $@\n`);
  }
  return out.join('\n');
}

/** Median wall seconds of running a command `REPEAT` times (after one warm-up); `before` runs untimed first. */
function time(cmd: string, args: string[], cwd: string, before?: () => void): number {
  const runOnce = (): number => {
    before?.();
    const t = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: 'true' } });
    if (r.status !== 0)
      throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}: ${r.stderr.toString().slice(0, 500)}`);
    return Number(process.hrtime.bigint() - t) / 1e9;
  };
  runOnce();
  const times = Array.from({ length: REPEAT }, runOnce).sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

interface Row {
  case: string;
  tool: string;
  seconds: number;
}

const rows: Row[] = [];
const root = mkdtempSync(join(tmpdir(), 'tailor-bench-engine-'));
const haveSnakemake = has('snakemake');

// Per-stage overhead: a chain of RUN_STAGES trivial commands, every stage really run, one at a time.
if (ONLY !== 'status') {
  const dir = join(root, 'run-chain');
  mkdirSync(join(dir, 'pipelines'), { recursive: true });
  writeFileSync(join(dir, 'pipelines', 'chain.yaml'), tailorYaml('chain', RUN_STAGES));
  writeFileSync(join(dir, 'Snakefile'), snakefile('chain', RUN_STAGES));
  const fresh =
    (...paths: string[]) =>
    () => {
      for (const p of paths) rmSync(join(dir, p), { recursive: true, force: true });
    };
  const label = `chain ${RUN_STAGES}: run every stage, one at a time`;
  console.error(`[run] ${label}…`);
  rows.push({
    case: label,
    tool: 'tailor run --jobs 1',
    seconds: time(
      process.execPath,
      [TAILOR, 'run', 'pipelines/chain.yaml', '--jobs', '1', '--quiet'],
      dir,
      fresh('cache'),
    ),
  });
  if (haveSnakemake)
    rows.push({
      case: label,
      tool: 'snakemake -j1',
      seconds: time('snakemake', ['-j1', '-q'], dir, fresh('o', '.snakemake')),
    });
}

for (const shape of ONLY === 'run' ? [] : (['chain', 'wide'] as const)) {
  const dir = join(root, shape);
  mkdirSync(join(dir, 'pipelines'), { recursive: true });
  writeFileSync(join(dir, 'pipelines', 'dag.yaml'), tailorYaml(shape));
  writeFileSync(join(dir, 'Snakefile'), snakefile(shape));
  writeFileSync(join(dir, 'Makefile'), makefile(shape));
  console.error(`[${shape}] first runs (populating outputs)…`);
  execFileSync(process.execPath, [TAILOR, 'run', 'pipelines/dag.yaml', '--jobs', String(cpus().length), '--quiet'], {
    cwd: dir,
    stdio: 'inherit',
    env: { ...process.env, CI: 'true' },
  });
  execFileSync('make', ['-s', `-j${cpus().length}`], { cwd: dir });
  if (haveSnakemake) execFileSync('snakemake', ['-c', String(cpus().length), '-q'], { cwd: dir, stdio: 'ignore' });
  console.error(`[${shape}] timing no-op checks…`);
  rows.push({
    case: `${shape} ${STAGES}: no-op status`,
    tool: 'tailor status',
    seconds: time(process.execPath, [TAILOR, 'status', 'pipelines/dag.yaml'], dir),
  });
  rows.push({
    case: `${shape} ${STAGES}: no-op status`,
    tool: 'tailor run --dry-run',
    seconds: time(process.execPath, [TAILOR, 'run', 'pipelines/dag.yaml', '--dry-run'], dir),
  });
  rows.push({
    case: `${shape} ${STAGES}: no-op status`,
    tool: 'make -q',
    seconds: time('sh', ['-c', 'make -q || [ $? -eq 0 ]'], dir),
  });
  if (haveSnakemake)
    rows.push({
      case: `${shape} ${STAGES}: no-op status`,
      tool: 'snakemake -n',
      seconds: time('snakemake', ['-n', '-q'], dir),
    });
}

// A stage that depends on a folder of many small files.
if (ONLY !== 'run') {
  const dir = join(root, 'files');
  const data = join(dir, 'data');
  mkdirSync(join(dir, 'pipelines'), { recursive: true });
  console.error(`[files] writing ${FILES} files…`);
  for (let d = 0; d < Math.ceil(FILES / 1000); d++) {
    mkdirSync(join(data, `d${d}`), { recursive: true });
    for (let f = 0; f < 1000 && d * 1000 + f < FILES; f++)
      writeFileSync(join(data, `d${d}`, `f${f}.txt`), `file ${d}-${f}\n`.repeat(8));
  }
  writeFileSync(
    join(dir, 'pipelines', 'files.yaml'),
    'stages:\n  count:\n    cmd: "find data -type f | wc -l > ${out}/n"\n    deps: [data]\n',
  );
  writeFileSync(
    join(dir, 'Snakefile'),
    'rule count:\n    input: "data"\n    output: "n"\n    shell: "find data -type f | wc -l > {output}"\n',
  );
  writeFileSync(join(dir, 'Makefile'), 'n: $(shell find data -type f)\n\t@find data -type f | wc -l > n\n');
  const t0 = process.hrtime.bigint();
  execFileSync(process.execPath, [TAILOR, 'status', 'pipelines/files.yaml'], { cwd: dir, stdio: 'ignore' });
  const first = Number(process.hrtime.bigint() - t0) / 1e9;
  rows.push({ case: `folder of ${FILES} files: first hash (status)`, tool: 'tailor status', seconds: first });
  execFileSync(process.execPath, [TAILOR, 'run', 'pipelines/files.yaml', '--quiet'], { cwd: dir, stdio: 'ignore' });
  execFileSync('make', ['-s'], { cwd: dir });
  if (haveSnakemake) execFileSync('snakemake', ['-c1', '-q'], { cwd: dir, stdio: 'ignore' });
  rows.push({
    case: `folder of ${FILES} files: second status`,
    tool: 'tailor status',
    seconds: time(process.execPath, [TAILOR, 'status', 'pipelines/files.yaml'], dir),
  });
  rows.push({
    case: `folder of ${FILES} files: second status`,
    tool: 'make -q',
    seconds: time('sh', ['-c', 'make -q || [ $? -eq 0 ]'], dir),
  });
  if (haveSnakemake)
    rows.push({
      case: `folder of ${FILES} files: second status`,
      tool: 'snakemake -n',
      seconds: time('snakemake', ['-n', '-q'], dir),
    });
}

rmSync(root, { recursive: true, force: true });

const byCase = new Map<string, Row[]>();
for (const r of rows) byCase.set(r.case, [...(byCase.get(r.case) ?? []), r]);
const md = [
  '# Engine benchmark',
  '',
  `Command: \`npm run bench:engine\` (BENCH_STAGES=${STAGES}, BENCH_FILES=${FILES}, BENCH_RUN_STAGES=${RUN_STAGES}${ONLY ? `, BENCH_ONLY=${ONLY}` : ''}, median of ${REPEAT} after a warm-up).`,
  `Machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}; load average at the end ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}.`,
  '',
  '| case | tool | seconds | per stage | tailor is N× faster |',
  '|---|---|---:|---:|---:|',
];
for (const [c, list] of byCase) {
  const ref = list.find((r) => r.tool.startsWith('tailor'))?.seconds;
  const n = c.startsWith('chain') || c.startsWith('wide') ? Number(/\d+/.exec(c)?.[0]) : 1;
  for (const r of list)
    md.push(
      `| ${c} | ${r.tool} | ${r.seconds.toFixed(3)} | ${n > 1 ? `${((r.seconds / n) * 1000).toFixed(1)} ms` : ''} | ${ref && !r.tool.startsWith('tailor') ? (r.seconds / ref).toFixed(1) + '×' : ''} |`,
    );
}
if (!haveSnakemake) md.push('', 'snakemake was not installed (`apt-get install snakemake`), so its rows are missing.');
mkdirSync(join(REPO, 'bench', 'results'), { recursive: true });
// A partial run (BENCH_ONLY) gets files of its own, so it never overwrites the full tables.
const base = `engine${ONLY ? `-${ONLY}` : ''}`;
writeFileSync(
  join(REPO, 'bench', 'results', `${base}.json`),
  JSON.stringify({ stages: STAGES, files: FILES, runStages: RUN_STAGES, only: ONLY ?? null, rows }, null, 2) + '\n',
);
writeFileSync(join(REPO, 'bench', 'results', `${base}.md`), md.join('\n') + '\n');
console.log(md.join('\n'));
