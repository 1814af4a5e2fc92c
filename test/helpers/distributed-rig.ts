/** A Redis rig for the distributed tests: a redis-server, a file:// remote, real workers, runPipeline over them. */
import { pathToFileURL } from 'node:url';
import { Workspace } from './rig.js';
import { startRedis, type RedisService } from './services.js';
import { startWorker, waitFor, type WorkerProc, type WorkerSpec } from './distributed-workers.js';
import { loadOrThrow, runDistributed, type DriverOptions } from './distributed-driver.js';
import { RedisExecutor } from '../../src/distributed/redis-executor.js';
import { Session } from '../../src/run/session.js';

export interface Rig {
  ws: Workspace;
  redis: RedisService;
  remoteUrl: string;
  workers: WorkerProc[];
  executor: RedisExecutor;
  addWorker(extra?: Partial<WorkerSpec>): Promise<WorkerProc>;
  run(file: string, extra?: Partial<DriverOptions>): ReturnType<typeof runDistributed>;
  dispose(): Promise<void>;
}

export async function rig(opts: { persistent?: boolean } = {}): Promise<Rig> {
  const ws = await Workspace.create('tailor-dist-');
  const redis = await startRedis(opts);
  const remoteUrl = pathToFileURL(ws.path('remote')).href;
  const executor = new RedisExecutor(redis.url);
  const workers: WorkerProc[] = [];
  let n = 0;
  const r: Rig = {
    ws,
    redis,
    remoteUrl,
    workers,
    executor,
    async addWorker(extra = {}) {
      const w = await startWorker({
        redisUrl: redis.url,
        remoteUrl,
        cacheDir: ws.path(`worker-cache-${++n}`),
        cwd: ws.dir,
        ...extra,
      });
      workers.push(w);
      return w;
    },
    run(file, extra = {}) {
      return runDistributed(loadOrThrow(file, ws.dir), {
        cacheDir: ws.path('run-cache'),
        executor,
        remoteUrl,
        ...extra,
      });
    },
    async dispose() {
      await executor.close();
      await Promise.all(workers.map((w) => w.stop()));
      await redis.stop();
      await ws.dispose();
    },
  };
  return r;
}

/** Resolves once a stage's command has appended its name to runs.log. */
export function stageStarted(ws: Workspace, stage: string): Promise<true> {
  return waitFor(`${stage} to start`, async () => ((await ws.runCounts())[stage] ? true : undefined));
}

export async function latestTrees(
  cacheDir: string,
  pipeline: string,
  what: 'treeHash' | 'contentHash' = 'treeHash',
): Promise<Record<string, string>> {
  const session = await Session.open(cacheDir);
  try {
    return Object.fromEntries(
      [...session.index.outputs.latestOfPipeline(pipeline)].map(([k, v]) => [k, v[what] ?? '']),
    );
  } finally {
    session.close();
  }
}
