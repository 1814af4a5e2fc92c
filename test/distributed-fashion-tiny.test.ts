/**
 * The small real pipeline, distributed: fashion-tiny through `tailor run --executor redis://…
 * --remote file://…` over two `tailor worker` processes (their own caches, one remote) gives the
 * stage keys and output hashes of a local run of the same workspace on this machine. Minutes on
 * two cores (the pipeline runs twice); it needs a redis-server binary.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TAILOR_ROOT } from '../src/paths.js';
import { Session } from '../src/run/session.js';
import { Workspace } from './helpers/rig.js';
import { redisMissing, startRedis } from './helpers/services.js';
import { startWorker, type WorkerProc } from './helpers/distributed-workers.js';

const PIPELINE = 'pipelines/fashion-tiny.yaml';

interface Latest {
  key: string;
  content: string;
  dir: string;
}

async function latest(cacheDir: string): Promise<Map<string, Latest>> {
  const session = await Session.open(cacheDir);
  try {
    const rows = session.index.outputs.latestOfPipeline(PIPELINE);
    return new Map(
      [...rows].map(([stage, r]) => [
        stage,
        {
          key: r.stageKey,
          content: r.contentHash ?? '',
          dir: join(cacheDir, 'objects', r.treeHash.slice(0, 2), r.treeHash),
        },
      ]),
    );
  } finally {
    session.close();
  }
}

/** The files (metrics.json aside) whose bytes differ between two output folders, with a diff of small text ones. */
async function differingFiles(a: string, b: string): Promise<string> {
  const files = async (dir: string): Promise<string[]> =>
    (await readdir(dir, { recursive: true, withFileTypes: true }))
      .filter((e) => !e.isDirectory())
      .map((e) => relative(dir, join(e.parentPath, e.name)))
      .filter((f) => f !== 'metrics.json');
  const [fa, fb] = [await files(a), await files(b)];
  const notes: string[] = [];
  for (const f of new Set([...fa, ...fb])) {
    const [x, y] = await Promise.all([a, b].map((d) => readFile(join(d, f)).catch(() => undefined)));
    if (x && y && x.equals(y)) continue;
    const lines = (buf?: Buffer): string[] => (buf && buf.length < 1e6 ? buf.toString('utf8').split('\n') : []);
    const [lx, ly] = [lines(x), lines(y)];
    const changed = lx.flatMap((line, i) =>
      line === ly[i] ? [] : [`  line ${i + 1}: ${line} | ${ly[i] ?? '(none)'}`],
    );
    notes.push(
      `${f}${x ? '' : ' (only in the distributed run)'}${y ? '' : ' (only in the local run)'}`,
      ...changed.slice(0, 5),
    );
  }
  return notes.join('\n');
}

test(
  'fashion-tiny over two BullMQ workers gives the keys and output hashes of a local run',
  { skip: redisMissing() },
  async () => {
    const ws = await Workspace.create('tailor-dist-tiny-');
    const redis = await startRedis();
    const workers: WorkerProc[] = [];
    try {
      await mkdir(ws.path('pipelines'));
      // fashion-tiny extends fashion, which extends imaterialist: the whole chain of pipeline files.
      for (const f of ['imaterialist.yaml', 'fashion.yaml', 'fashion-tiny.yaml'])
        await copyFile(join(TAILOR_ROOT, 'pipelines', f), ws.path('pipelines', f));

      const local = await ws.tailor(['run', PIPELINE, '--cache', 'local-cache', '--json']);
      assert.equal(local.code, 0, local.stderr);

      const remoteUrl = pathToFileURL(ws.path('remote')).href;
      // precompute and fine-tune-backbone ask for a GPU: each worker offers one token (this machine has
      // no GPU, so their backend falls back to the CPU build, as in the local run here).
      for (let i = 1; i <= 2; i++)
        workers.push(
          await startWorker({ redisUrl: redis.url, remoteUrl, cacheDir: ws.path(`w${i}`), cwd: ws.dir, gpus: 1 }),
        );
      const dist = await ws.tailor([
        'run',
        PIPELINE,
        '--cache',
        'run-cache',
        '--executor',
        redis.url,
        '--remote',
        remoteUrl,
        '--json',
      ]);
      assert.equal(dist.code, 0, dist.stderr);
      const stages = (JSON.parse(dist.stdout.trim().split('\n').pop()!) as { stages: Array<Record<string, string>> })
        .stages;
      const ids = new Set(workers.map((w) => w.id));
      for (const s of stages) {
        assert.equal(s.action, 'ran', `${s.name}: ${dist.stderr.slice(-2000)}`);
        assert.ok(ids.has(s.worker!), `${s.name} ran on one of the workers, not ${s.worker}`);
      }
      assert.equal(new Set(stages.map((s) => s.worker)).size, 2, 'both workers took stages');

      const here = await latest(ws.path('local-cache'));
      const there = await latest(ws.path('run-cache'));
      assert.deepEqual([...there.keys()].sort(), [...here.keys()].sort());
      for (const [stage, l] of here) {
        const d = there.get(stage)!;
        assert.equal(d.key, l.key, `${stage}: same stage key`);
        // The content hash is the output without metrics.json (which holds timings): what downstream keys
        // are made of, and the bytes the stage wrote.
        if (d.content !== l.content)
          assert.fail(
            `${stage}: output content differs (${l.content} vs ${d.content}): ${await differingFiles(l.dir, d.dir)}`,
          );
      }
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
      await redis.stop();
      await ws.dispose();
    }
  },
);
