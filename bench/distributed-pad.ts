/**
 * Sharded pad benchmark: pad of N real JPEGs (default 20,000) as one stage on 1 BullMQ worker against
 * `shards: 4` over 4 workers (real redis-server, real `tailor worker` processes, a file:// remote,
 * empty caches each), plus the same two on the local executor (`--jobs 1` and `--jobs 4`) and on a
 * single-node Slurm cluster (1 slot unsharded, 4 slots with `shards: 4`). Also
 * checks that the sharded runs give the unsharded content hash.
 *
 *   npm run bench:distributed                  (this runs after bench/distributed.ts)
 *   BENCH_PAD_IMAGES=2000 node --import tsx bench/distributed-pad.ts   (a smaller run)
 *
 * Writes bench/results/distributed-pad.{json,md}. Every worker runs on this machine, so the speed-up
 * is bounded by its cores (pad already pads 2 images per core at once), not by the worker count.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { redisMissing, slurmMissing, startRedis, startSlurm } from '../test/helpers/services.js';
import { startWorker, type WorkerProc } from '../test/helpers/distributed-workers.js';
import { Session } from '../src/run/session.js';

const REPO = resolve(fileURLToPath(import.meta.url), '../..');
const TAILOR = join(REPO, 'bin', 'tailor');
const IMAGES = Number(process.env.BENCH_PAD_IMAGES ?? 20_000);
const loadAtStart = loadavg();

interface Row {
  run: string;
  shards: number;
  slots: number;
  seconds: number;
  contentHash: string;
  speedup?: number;
}

const root = mkdtempSync(join(tmpdir(), 'tailor-bench-pad-'));
mkdirSync(join(root, 'data', 'images'), { recursive: true });
console.error(`[data] ${IMAGES} JPEGs…`);
const lines: string[] = [];
for (let i = 0; i < IMAGES; i++) {
  const img = sharp({
    create: {
      width: 96 + (i % 13) * 7,
      height: 64 + (i % 11) * 9,
      channels: 3,
      background: { r: (i * 37) % 256, g: (i * 91) % 256, b: (i * 53) % 256 },
    },
  });
  writeFileSync(join(root, 'data', 'images', `${i}.jpg`), await img.jpeg({ quality: 90 }).toBuffer());
  lines.push(JSON.stringify({ imageId: String(i), set: 'train', labels: [], file: `data/images/${i}.jpg` }));
}
writeFileSync(join(root, 'data', 'manifest.jsonl'), lines.join('\n') + '\n');

function pipeline(shards: number): string {
  return `stages:
  pad:
    uses: pad
    deps: [data]
    params: { manifest: data/manifest.jsonl, size: 64 }
${shards > 1 ? `    shards: ${shards}\n` : ''}`;
}

/** `tailor run` from an empty cache; returns wall seconds and pad's content hash. */
async function time(
  name: string,
  shards: number,
  slots: number,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<Row> {
  writeFileSync(join(root, 'p.yaml'), pipeline(shards));
  const cache = join(root, `cache-${rows.length}`);
  const t0 = performance.now();
  const stdout = execFileSync(process.execPath, [TAILOR, 'run', 'p.yaml', '--json', '--cache', cache, ...args], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, CI: 'true', ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
  const seconds = (performance.now() - t0) / 1000;
  const out = JSON.parse(stdout.trim().split('\n').pop()!) as { stages: Array<{ name: string; action: string }> };
  const notRun = out.stages.filter((s) => s.action !== 'ran');
  if (notRun.length) throw new Error(`${name}: ${notRun.map((s) => s.name).join(', ')} did not run`);
  const session = await Session.open(cache);
  const pad = session.index.outputs.latestOfPipeline('p.yaml').get('pad');
  session.close();
  return { run: name, shards, slots, seconds, contentHash: pad?.contentHash ?? '?' };
}

const rows: Row[] = [];
console.error('[local] unsharded, --jobs 1…');
rows.push(await time('local --jobs 1', 1, 1, ['--jobs', '1']));
console.error('[local] shards: 4, --jobs 4…');
rows.push(await time('local --jobs 4, shards: 4', 4, 4, ['--jobs', '4']));

const redisSkip = redisMissing();
if (redisSkip) console.error(`[redis] skipped: ${redisSkip}`);
else {
  for (const [n, shards] of [
    [1, 1],
    [4, 4],
  ] as const) {
    console.error(`[redis] ${n} worker(s), shards ${shards}…`);
    const dir = join(root, `redis-${n}`);
    mkdirSync(dir);
    const redis = await startRedis();
    const remoteUrl = pathToFileURL(join(dir, 'remote')).href;
    const workers: WorkerProc[] = [];
    try {
      for (let i = 0; i < n; i++) {
        workers.push(
          await startWorker({
            redisUrl: redis.url,
            remoteUrl,
            cacheDir: join(dir, `w${i}`),
            cwd: root,
            lockMs: 30_000,
          }),
        );
      }
      const name = `BullMQ, ${n} worker(s)${shards > 1 ? `, shards: ${shards}` : ''}`;
      rows.push(await time(name, shards, n, ['--executor', redis.url, '--remote', remoteUrl]));
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
      await redis.stop();
    }
  }
}

const slurmSkip = slurmMissing();
if (slurmSkip) console.error(`[slurm] skipped: ${slurmSkip}`);
else {
  for (const [slots, shards] of [
    [1, 1],
    [4, 4],
  ] as const) {
    console.error(`[slurm] one node, ${slots} slot(s), shards ${shards}…`);
    const dir = join(root, `slurm-${slots}`);
    mkdirSync(dir);
    const cluster = await startSlurm({ gpus: 0, cpus: slots });
    try {
      const remoteUrl = pathToFileURL(join(dir, 'remote')).href;
      const name = `Slurm, 1 node × ${slots} slot(s)${shards > 1 ? `, shards: ${shards}` : ''}`;
      rows.push(
        await time(name, shards, slots, ['--executor', 'slurm', '--remote', remoteUrl], {
          ...cluster.env,
          TAILOR_SLURM_DIR: join(dir, 'jobs'),
          TAILOR_NODE_CACHE: join(dir, 'node-cache'),
        }),
      );
    } finally {
      await cluster.stop();
    }
  }
}
rmSync(root, { recursive: true, force: true });
const loadAtEnd = loadavg();

const local1 = rows.find((r) => r.run === 'local --jobs 1');
const bull1 = rows.find((r) => r.run === 'BullMQ, 1 worker(s)');
const slurm1 = rows.find((r) => r.run === 'Slurm, 1 node × 1 slot(s)');
for (const r of rows) {
  const base = r.run.startsWith('BullMQ') ? bull1 : r.run.startsWith('Slurm') ? slurm1 : local1;
  if (base && r !== base) r.speedup = base.seconds / r.seconds;
}
const sameHash = new Set(rows.map((r) => r.contentHash)).size === 1;
const md = [
  '# Sharded pad benchmark',
  '',
  `Command: \`BENCH_PAD_IMAGES=${IMAGES} node --import tsx bench/distributed-pad.ts\` (pad of ${IMAGES} real JPEGs to 64 px, empty caches).`,
  `Machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}.`,
  'Every worker runs on this same machine.',
  `Load average (1, 5, 15 min) at the start: ${loadAtStart.map((x) => x.toFixed(1)).join(', ')}; at the end: ${loadAtEnd.map((x) => x.toFixed(1)).join(', ')}.`,
  '',
  '| run | shards | slots | seconds | speed-up vs its 1-slot row |',
  '|---|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.run} | ${r.shards} | ${r.slots} | ${r.seconds.toFixed(1)} | ${r.speedup ? r.speedup.toFixed(2) + '×' : ''} |`,
  ),
  '',
  `pad's content hash the same in every row: ${sameHash ? 'yes' : 'NO'} (${[...new Set(rows.map((r) => r.contentHash.slice(0, 12)))].join(', ')}).`,
  ...(redisSkip ? ['', `BullMQ rows missing: ${redisSkip}.`] : []),
  ...(slurmSkip ? ['', `Slurm rows missing: ${slurmSkip}.`] : []),
];
mkdirSync(join(REPO, 'bench', 'results'), { recursive: true });
writeFileSync(
  join(REPO, 'bench', 'results', 'distributed-pad.json'),
  JSON.stringify({ images: IMAGES, loadavg: { start: loadAtStart, end: loadAtEnd }, rows }, null, 2) + '\n',
);
writeFileSync(join(REPO, 'bench', 'results', 'distributed-pad.md'), md.join('\n') + '\n');
console.log(md.join('\n'));
if (!sameHash) process.exitCode = 1;
