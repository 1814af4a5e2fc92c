/**
 * Remote cache benchmark: push and pull of (1) the fashion-tiny outputs and (2) a generated 1 GiB
 * feature-shard folder, to s3rver (S3 API on 127.0.0.1) and to a file:// shared folder, beside
 * `cp -r` of the same folders: seconds, MB/s, objects/s and the tailor process's peak RSS.
 *
 *   npm run bench:remote                       (writes bench/results/remote.{json,md})
 *   BENCH_SHARD_MB=256 npm run bench:remote    (a smaller shard folder)
 *   BENCH_REPEAT=3 BENCH_SHARD_REPEAT=1        (runs per measurement; the median is reported)
 *   BENCH_TINY_WS=DIR npm run bench:remote     (a workspace whose cache/ already ran fashion-tiny;
 *                                               otherwise it runs once here, minutes on 2 cores)
 *
 * Each transfer is the real CLI (`tailor push|pull --json`) under GNU time for wall time and peak
 * RSS. The pull goes into an empty cache, so it downloads everything and verifies every blob.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startS3Server, type S3Server } from '../test/helpers/s3-server.js';

const REPO = resolve(fileURLToPath(import.meta.url), '../..');
const TAILOR = join(REPO, 'bin', 'tailor');
const SHARD_MB = Number(process.env.BENCH_SHARD_MB ?? 1024);
const SHARDS = 16;
/** Runs per measurement (the median is reported): the machine is shared and noisy. */
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);
const SHARD_REPEAT = Number(process.env.BENCH_SHARD_REPEAT ?? 1);
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

interface Measure {
  seconds: number;
  peakRssMB?: number;
  objects: number;
  bytes: number;
  mbPerSecond: number;
  objectsPerSecond: number;
}

interface Row {
  workload: string;
  remote: string;
  op: string;
  result: Measure & { runs?: number };
}

/** Run the CLI under GNU time; returns its JSON answer with wall seconds and peak RSS. */
function tailor(
  cwd: string,
  args: string[],
  env: Record<string, string>,
): { json: unknown; seconds: number; rssMB?: number } {
  const timeFile = join(tmpdir(), `tailor-bench-time-${process.pid}`);
  const cmd = TIME
    ? [TIME, '-o', timeFile, '-f', '%e %M', process.execPath, TAILOR, ...args]
    : [process.execPath, TAILOR, ...args];
  const started = performance.now();
  const r = spawnSync(cmd[0]!, cmd.slice(1), {
    cwd,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  const wall = (performance.now() - started) / 1000;
  if (r.status !== 0) throw new Error(`tailor ${args.join(' ')} failed (${r.status}):\n${r.stderr}\n${r.stdout}`);
  let seconds = wall;
  let rssMB: number | undefined;
  if (TIME) {
    const [e, m] = readFileSync(timeFile, 'utf8').trim().split(/\s+/).slice(-2).map(Number);
    seconds = e ?? wall;
    rssMB = m === undefined ? undefined : m / 1024;
    rmSync(timeFile, { force: true });
  }
  return { json: JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}'), seconds, rssMB };
}

function measure(t: { json: unknown; seconds: number; rssMB?: number }): Measure {
  const stages = (t.json as { stages: Array<{ objects: number; bytes: number; state: string }> }).stages;
  const objects = stages.reduce((n, s) => n + s.objects, 0);
  const bytes = stages.reduce((n, s) => n + s.bytes, 0);
  return {
    seconds: round(t.seconds),
    peakRssMB: t.rssMB === undefined ? undefined : round(t.rssMB),
    objects,
    bytes,
    mbPerSecond: round(bytes / 1e6 / t.seconds),
    objectsPerSecond: round(objects / t.seconds),
  };
}

/** `cp -r` of every object folder of a cache into a fresh folder: the copy baseline. */
function copyBaseline(cacheDir: string, scratch: string): Measure {
  const objects = join(cacheDir, 'objects');
  const dest = mkdtempSync(join(scratch, 'cp-'));
  const started = performance.now();
  execFileSync('cp', ['-r', objects, dest]);
  execFileSync('sync');
  const seconds = (performance.now() - started) / 1000;
  const { files, bytes } = countFiles(objects);
  rmSync(dest, { recursive: true, force: true });
  return {
    seconds: round(seconds),
    objects: files,
    bytes,
    mbPerSecond: round(bytes / 1e6 / seconds),
    objectsPerSecond: round(files / seconds),
  };
}

function countFiles(dir: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      const sub = countFiles(p);
      files += sub.files;
      bytes += sub.bytes;
    } else if (e.isFile()) {
      files++;
      bytes += statSync(p).size;
    }
  }
  return { files, bytes };
}

/** A workspace whose cache holds the fashion-tiny outputs (runs the pipeline once if needed). */
function tinyWorkspace(scratch: string): string {
  const given = process.env.BENCH_TINY_WS;
  if (given && existsSync(join(given, 'cache', 'objects'))) return given;
  const ws = join(scratch, 'tiny');
  mkdirSync(join(ws, 'pipelines'), { recursive: true });
  for (const f of ['fashion.yaml', 'fashion-tiny.yaml'])
    writeFileSync(join(ws, 'pipelines', f), readFileSync(join(REPO, 'pipelines', f)));
  process.stderr.write('bench: running pipelines/fashion-tiny.yaml once into the bench cache (minutes)...\n');
  tailor(ws, ['run', 'pipelines/fashion-tiny.yaml', '--json'], {});
  return ws;
}

/** A workspace whose one stage wrote SHARDS float16-like shards of SHARD_MB/SHARDS MiB each. */
function shardWorkspace(scratch: string): string {
  const ws = join(scratch, 'shards');
  mkdirSync(join(ws, 'pipelines'), { recursive: true });
  const each = Math.round((SHARD_MB / SHARDS) * 1024 * 1024);
  writeFileSync(
    join(ws, 'pipelines', 'shards.yaml'),
    `stages:\n  features:\n    cmd: "for i in $(seq -w 1 ${SHARDS}); do head -c ${each} /dev/urandom > \${out}/shard-$i.f16; done && echo '{\\"shards\\": ${SHARDS}}' > \${out}/index.json"\n`,
  );
  tailor(ws, ['run', 'pipelines/shards.yaml', '--json'], {});
  return ws;
}

/** Copy a workspace's pipelines (not its cache) into a fresh folder to pull into. */
function emptyTwin(ws: string, scratch: string): string {
  const twin = mkdtempSync(join(scratch, 'twin-'));
  mkdirSync(join(twin, 'pipelines'));
  for (const f of readdirSync(join(ws, 'pipelines')))
    if (f.endsWith('.yaml')) writeFileSync(join(twin, 'pipelines', f), readFileSync(join(ws, 'pipelines', f)));
  return twin;
}

/** The run with the median wall time. */
function median(list: Measure[]): Measure & { runs: number } {
  const sorted = [...list].sort((a, b) => a.seconds - b.seconds);
  return { ...sorted[Math.floor((sorted.length - 1) / 2)]!, runs: list.length };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

async function main(): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), 'tailor-bench-remote-'));
  const rows: Row[] = [];
  let s3: S3Server | undefined;
  try {
    const workloads = [
      {
        name: 'fashion-tiny outputs',
        key: 'tiny',
        ws: tinyWorkspace(scratch),
        pipeline: 'pipelines/fashion-tiny.yaml',
        repeat: REPEAT,
      },
      {
        name: `feature shards (${SHARDS} × ${SHARD_MB / SHARDS} MiB)`,
        key: 'shards',
        ws: shardWorkspace(scratch),
        pipeline: 'pipelines/shards.yaml',
        repeat: SHARD_REPEAT,
      },
    ];
    s3 = await startS3Server(['bench']);
    for (const w of workloads) {
      const base = Array.from({ length: w.repeat }, () => copyBaseline(join(w.ws, 'cache'), scratch));
      rows.push({ workload: w.name, remote: '-', op: 'cp -r (baseline)', result: median(base) });
      for (const remote of ['s3rver', 'file://'] as const) {
        const runs: Record<string, Measure[]> = { push: [], 'push again (no-op)': [], 'pull (empty cache)': [] };
        for (let i = 0; i < w.repeat; i++) {
          // A fresh remote each time, so every first push is a cold one.
          const folder = mkdtempSync(join(scratch, 'shared-'));
          const url = remote === 's3rver' ? `s3://bench/${w.key}-${i}` : `file://${folder}`;
          const env = remote === 's3rver' ? s3.env : {};
          const args = (verb: string) => [verb, w.pipeline, '--remote', url, '--json'];
          runs.push!.push(measure(tailor(w.ws, args('push'), env)));
          runs['push again (no-op)']!.push(measure(tailor(w.ws, args('push'), env)));
          const twin = emptyTwin(w.ws, scratch);
          runs['pull (empty cache)']!.push(measure(tailor(twin, args('pull'), env)));
          rmSync(twin, { recursive: true, force: true });
          rmSync(folder, { recursive: true, force: true });
        }
        for (const [op, list] of Object.entries(runs))
          rows.push({ workload: w.name, remote, op, result: median(list) });
        process.stderr.write(`bench: ${w.name} via ${remote} done\n`);
      }
    }
  } finally {
    await s3?.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
  const machine = {
    cpus: cpus().length,
    cpu: cpus()[0]?.model ?? '?',
    loadavg: loadavg().map(round),
    node: process.version,
  };
  const out = join(REPO, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(
    join(out, 'remote.json'),
    JSON.stringify({ command: 'npm run bench:remote', shardMB: SHARD_MB, machine, rows }, null, 2) + '\n',
  );
  writeFileSync(join(out, 'remote.md'), markdown(rows, machine));
  process.stdout.write(markdown(rows, machine));
}

function markdown(rows: Row[], machine: { cpus: number; cpu: string; loadavg: number[]; node: string }): string {
  const lines = [
    '# Remote cache: push and pull',
    '',
    `\`npm run bench:remote\` on ${machine.cpus} × ${machine.cpu}, Node ${machine.node}, load average ${machine.loadavg.join(' ')} at the end.`,
    'Each row is one real `tailor push|pull --json` under GNU time (wall seconds, peak RSS of the tailor process);',
    'objects are blobs plus one manifest and one record per stage; the pull goes into an empty cache and',
    'hash-checks every blob before committing. `cp -r` copies the same object folders on the same disk (then `sync`).',
    `Median of ${REPEAT} runs for fashion-tiny, ${SHARD_REPEAT} for the shards (each push to a fresh remote); the`,
    'machine is shared with other jobs, so compare rows of one run with each other, not with other machines.',
    '',
    '| workload | remote | operation | seconds | MB | MB/s | objects | objects/s | peak RSS MB | vs cp -r |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    const m = r.result;
    const cp = rows.find((x) => x.workload === r.workload && x.remote === '-')!.result.seconds;
    const ratio = r.op.includes('no-op') || r.remote === '-' ? '' : `${round(m.seconds / cp)}x time`;
    lines.push(
      `| ${r.workload} | ${r.remote} | ${r.op} | ${m.seconds} | ${round(m.bytes / 1e6)} | ${m.mbPerSecond} | ${m.objects} | ${m.objectsPerSecond} | ${m.peakRssMB ?? 'n/a'} | ${ratio} |`,
    );
  }
  lines.push(
    '',
    'Reading the table: every row includes a fixed cost of about 1-2 s here (Node start, loading the',
    'pipeline, computing each stage key; the S3 SDK on s3:// only), which dominates the 24 MB of',
    'fashion-tiny; s3rver answers each request in JavaScript (MD5, metadata file), so the small-file',
    'rows against it measure s3rver more than tailor. A push checks every blob (HEAD, or listings),',
    'so a no-op push still verifies the remote rather than trusting its records. A pull hashes every',
    'byte twice (on download, then `store.commit` hashes the folder), which is what `cp -r` does not',
    'do. Peak RSS stays near 230 MB while 1 GB moves: multipart parts of 8 MB, 4 in flight per file,',
    '2 files at once; downloads stream to disk.',
  );
  return lines.join('\n') + '\n';
}

await main();
