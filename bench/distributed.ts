/**
 * Distributed executors benchmark: N independent stages of `sleep S` run by the local executor
 * (`tailor run --jobs J`), by 1, 2 and 4 BullMQ workers (real redis-server, real `tailor worker`
 * processes, a file:// remote) and by a single-node Slurm cluster (4 slots; BENCH_SLURM_SLOTS=1,2,4 for more rows), each from empty
 * caches. Reports wall seconds, speed-up and the per-stage overhead (wall × slots / stages − S).
 *
 *   npm run bench:distributed                       (writes bench/results/distributed.{json,md})
 *   BENCH_STAGES=40 npm run bench:distributed       (a quicker, smaller run)
 *
 * Every row is the real command: `tailor run p.yaml --jobs J` locally, `tailor run p.yaml
 * --executor redis://…|slurm --remote file://…` for the distributed ones (runPipeline with the
 * RemoteStageExecutor). Pad of 20,000 images sharded over 4 workers against 1: bench/distributed-pad.ts
 * (run after this one by the same npm script).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { redisMissing, slurmMissing, startRedis, startSlurm } from '../test/helpers/services.js';
import { startWorker, type WorkerProc } from '../test/helpers/distributed-workers.js';

const REPO = resolve(fileURLToPath(import.meta.url), '../..');
const TAILOR = join(REPO, 'bin', 'tailor');
const STAGES = Number(process.env.BENCH_STAGES ?? 200);
const SLEEP = Number(process.env.BENCH_SLEEP ?? 0.5);
/** Slot counts of the single-node Slurm rows (each a fresh cluster with that many CPUs). */
const SLURM_SLOTS = (process.env.BENCH_SLURM_SLOTS ?? '4').split(',').map(Number);
const loadAtStart = loadavg();

interface Row {
  executor: string;
  slots: number;
  seconds: number;
  ideal: number;
  speedup?: number;
  overheadPerStage: number;
  note?: string;
}

function pipelineYaml(): string {
  const lines = ['stages:'];
  for (let i = 0; i < STAGES; i++) lines.push(`  s${i}:`, `    cmd: "sleep ${SLEEP} && echo ${i} > \${out}/o"`);
  return lines.join('\n') + '\n';
}

function row(executor: string, slots: number, seconds: number, note?: string): Row {
  const ideal = (STAGES * SLEEP) / slots;
  return { executor, slots, seconds, ideal, overheadPerStage: (seconds * slots) / STAGES - SLEEP, note };
}

const root = mkdtempSync(join(tmpdir(), 'tailor-bench-dist-'));
writeFileSync(join(root, 'p.yaml'), pipelineYaml());
const rows: Row[] = [];

for (const jobs of [1, 2, 4]) {
  console.error(`[local] --jobs ${jobs}…`);
  const cache = join(root, `local-${jobs}`);
  const t0 = performance.now();
  execFileSync(process.execPath, [TAILOR, 'run', 'p.yaml', '--jobs', String(jobs), '--quiet', '--cache', cache], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, CI: 'true' },
  });
  rows.push(row(`local --jobs ${jobs}`, jobs, (performance.now() - t0) / 1000));
}

/** `tailor run --executor EXECUTOR` from an empty cache; every stage must have run. */
function timeDistributed(
  name: string,
  slots: number,
  executor: string,
  dir: string,
  env: NodeJS.ProcessEnv = {},
): void {
  const remoteUrl = pathToFileURL(join(dir, 'remote')).href;
  const args = [TAILOR, 'run', 'p.yaml', '--executor', executor, '--remote', remoteUrl, '--json'];
  const t0 = performance.now();
  const stdout = execFileSync(process.execPath, [...args, '--cache', join(dir, 'run-cache')], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, CI: 'true', ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
  const seconds = (performance.now() - t0) / 1000;
  const stages = (JSON.parse(stdout.trim().split('\n').pop()!) as { stages: Array<{ name: string; action: string }> })
    .stages;
  const notRun = stages.filter((o) => o.action !== 'ran');
  if (notRun.length > 0 || stages.length !== STAGES)
    throw new Error(`${name}: ${notRun.length} of ${stages.length} stages did not run`);
  rows.push(row(name, slots, seconds));
}

const redisSkip = redisMissing();
if (redisSkip) console.error(`[redis] skipped: ${redisSkip}`);
else {
  for (const n of [1, 2, 4]) {
    console.error(`[redis] ${n} worker(s)…`);
    const dir = join(root, `redis-${n}`);
    mkdirSync(dir);
    const redis = await startRedis();
    const remoteUrl = pathToFileURL(join(dir, 'remote')).href;
    const workers: WorkerProc[] = [];
    for (let i = 0; i < n; i++) {
      workers.push(
        await startWorker({ redisUrl: redis.url, remoteUrl, cacheDir: join(dir, `w${i}`), cwd: root, lockMs: 30_000 }),
      );
    }
    try {
      timeDistributed(`BullMQ, ${n} worker(s)`, n, redis.url, dir);
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
      await redis.stop();
    }
  }
}

const slurmSkip = slurmMissing();
if (slurmSkip) console.error(`[slurm] skipped: ${slurmSkip}`);
else {
  for (const slots of SLURM_SLOTS) {
    console.error(`[slurm] one node, ${slots} slots…`);
    const dir = join(root, `slurm-${slots}`);
    mkdirSync(dir);
    const cluster = await startSlurm({ gpus: 0, cpus: slots });
    try {
      timeDistributed(`Slurm, 1 node × ${slots} slots`, slots, 'slurm', dir, {
        ...cluster.env,
        TAILOR_SLURM_DIR: join(dir, 'jobs'),
        TAILOR_NODE_CACHE: join(dir, 'node-cache'),
      });
    } finally {
      await cluster.stop();
    }
  }
}
const loadAtEnd = loadavg();

rmSync(root, { recursive: true, force: true });

const baseline = rows.find((x) => x.executor === 'local --jobs 1');
for (const r of rows) if (baseline && r !== baseline) r.speedup = baseline.seconds / r.seconds;
const md = [
  '# Distributed executors benchmark',
  '',
  `Command: \`npm run bench:distributed\` (BENCH_STAGES=${STAGES}, BENCH_SLEEP=${SLEEP}: ${STAGES} independent stages of \`sleep ${SLEEP}\`, empty caches).`,
  `Machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}.`,
  'Every worker runs on this same machine; each stage is a child process (node) wherever it runs.',
  `Load average (1, 5, 15 min) at the start: ${loadAtStart.map((x) => x.toFixed(1)).join(', ')}; at the end: ${loadAtEnd.map((x) => x.toFixed(1)).join(', ')}.`,
  '',
  '| executor | slots | seconds | ideal | speed-up vs local --jobs 1 | overhead per stage (s) |',
  '|---|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.executor} | ${r.slots} | ${r.seconds.toFixed(1)} | ${r.ideal.toFixed(1)} | ${r.speedup ? r.speedup.toFixed(2) + '×' : ''} | ${r.overheadPerStage.toFixed(3)} |`,
  ),
  '',
  'Overhead per stage = wall seconds × slots / stages − the sleep: what each stage costs beyond its own work.',
  ...(redisSkip ? ['', `BullMQ rows missing: ${redisSkip}.`] : []),
  ...(slurmSkip ? ['', `Slurm row missing: ${slurmSkip}.`] : []),
  '',
  'Pad of 20,000 images sharded over 4 workers against 1: bench/results/distributed-pad.md (bench/distributed-pad.ts).',
];
mkdirSync(join(REPO, 'bench', 'results'), { recursive: true });
writeFileSync(
  join(REPO, 'bench', 'results', 'distributed.json'),
  JSON.stringify({ stages: STAGES, sleep: SLEEP, loadavg: { start: loadAtStart, end: loadAtEnd }, rows }, null, 2) +
    '\n',
);
writeFileSync(join(REPO, 'bench', 'results', 'distributed.md'), md.join('\n') + '\n');
console.log(md.join('\n'));
