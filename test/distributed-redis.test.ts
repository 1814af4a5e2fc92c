/**
 * The BullMQ executor against a real redis-server and real `tailor worker` processes, each with
 * its own cache, all sharing one file:// remote: same outputs as a local run, a worker SIGKILLed
 * mid-stage, Redis restarts, GPU token routing, an oversize GPU request, Ctrl-C on the run and
 * on a worker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readFile } from 'node:fs/promises';
import { Workspace } from './helpers/rig.js';
import { freePort, redisMissing, startRedis, type RedisService } from './helpers/services.js';
import { startWorker, waitFor, type WorkerProc, type WorkerSpec } from './helpers/distributed-workers.js';
import { loadOrThrow, runDistributed, type DriverOptions } from './helpers/distributed-driver.js';
import { RedisExecutor } from '../src/distributed/redis-executor.js';
import { openRemote } from '../src/distributed/remote-outputs.js';
import { Session } from '../src/run/session.js';

const skip = redisMissing();

const TOY = `stages:
  a:
    cmd: "echo a >> runs.log && cat data/in.txt > \${out}/a.txt && echo \${params.word} >> \${out}/a.txt"
    deps: [data/in.txt]
    params: { word: hello }
  b:
    cmd: "echo b >> runs.log && sleep 1 && cat \${needs.a}/a.txt > \${out}/b.txt && echo b >> \${out}/b.txt"
    needs: [a]
  c:
    cmd: "echo c >> runs.log && sleep 1 && tr a-z A-Z < \${needs.a}/a.txt > \${out}/c.txt"
    needs: [a]
  d:
    cmd: "echo d >> runs.log && cat \${needs.b}/b.txt \${needs.c}/c.txt > \${out}/d.txt"
    needs: [b, c]
`;

interface Rig {
  ws: Workspace;
  redis: RedisService;
  remoteUrl: string;
  workers: WorkerProc[];
  executor: RedisExecutor;
  addWorker(extra?: Partial<WorkerSpec>): Promise<WorkerProc>;
  run(file: string, extra?: Partial<DriverOptions>): ReturnType<typeof runDistributed>;
  dispose(): Promise<void>;
}

async function rig(opts: { persistent?: boolean } = {}): Promise<Rig> {
  const ws = await Workspace.create('tailor-dist-');
  const redis = await startRedis(opts);
  const remoteUrl = pathToFileURL(ws.path('remote')).href;
  const remote = openRemote(remoteUrl);
  if (!remote.ok) throw new Error(remote.error);
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
        remote: remote.value,
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
function stageStarted(ws: Workspace, stage: string): Promise<true> {
  return waitFor(`${stage} to start`, async () => ((await ws.runCounts())[stage] ? true : undefined));
}

async function latestTrees(
  cacheDir: string,
  pipeline: string,
  what: 'treeHash' | 'contentHash' = 'treeHash',
): Promise<Record<string, string>> {
  const session = await Session.open(cacheDir);
  try {
    return Object.fromEntries([...session.index.latestOfPipeline(pipeline)].map(([k, v]) => [k, v[what] ?? '']));
  } finally {
    session.close();
  }
}

test(
  'three workers with their own caches and one shared remote give the outputs of a local run',
  { skip },
  async () => {
    const r = await rig();
    try {
      await r.ws.write('p.yaml', TOY);
      await r.ws.write('data/in.txt', 'input\n');
      const local = await r.ws.run(['p.yaml', '--cache', 'local-cache']);
      assert.equal(local.code, 0, local.result.stderr);
      const localTrees = await latestTrees(r.ws.path('local-cache'), 'p');
      await r.ws.clearRuns();

      const ids = [];
      for (let i = 0; i < 3; i++) ids.push((await r.addWorker()).id);
      const out = await r.run('p.yaml');
      for (const name of ['a', 'b', 'c', 'd']) {
        assert.equal(out[name]!.action, 'ran', `${name}: ${out[name]!.message}`);
        assert.ok(ids.includes(out[name]!.worker!), `${name} ran on a worker: ${out[name]!.worker}`);
        assert.equal(out[name]!.treeHash, localTrees[name], `${name} has the local run's output`);
      }
      assert.notEqual(out.b!.worker, out.c!.worker, 'b and c ran at the same time on two workers');
      assert.deepEqual(await r.ws.runCounts(), { a: 1, b: 1, c: 1, d: 1 });
      assert.equal(
        await readFile(
          join(r.ws.path('run-cache'), 'objects', localTrees.d!.slice(0, 2), localTrees.d!, 'd.txt'),
          'utf8',
        ),
        'input\nhello\nb\nINPUT\nHELLO\n',
      );

      // A run from a fresh cache finds every key on the remote: the workers run nothing again.
      const again = await r.run('p.yaml', { cacheDir: r.ws.path('run-cache-2') });
      for (const name of ['a', 'b', 'c', 'd']) {
        assert.equal(again[name]!.from, 'remote', `${name} came from the remote`);
        assert.equal(again[name]!.treeHash, localTrees[name]);
      }
      assert.deepEqual(await r.ws.runCounts(), { a: 1, b: 1, c: 1, d: 1 });

      // A changed dep on this machine changes the key; the workers see the same workspace and agree.
      await r.ws.write('data/in.txt', 'other\n');
      const changed = await r.run('p.yaml');
      assert.equal(changed.a!.action, 'ran', changed.a!.message);
      assert.equal(changed.a!.from, 'ran');
      assert.notEqual(changed.a!.treeHash, localTrees.a);
    } finally {
      await r.dispose();
    }
  },
);

const SLOW = (seconds: number) => `stages:
  first:
    cmd: "echo first >> runs.log && echo 1 > \${out}/one"
  slow:
    cmd: "echo slow >> runs.log && sleep ${seconds} && cat \${needs.first}/one > \${out}/done"
    needs: [first]
  after:
    cmd: "echo after >> runs.log && cat \${needs.slow}/done > \${out}/after && echo after >> \${out}/after"
    needs: [slow]
`;

test(
  'a worker SIGKILLed mid-stage: another worker takes the job up, its output is registered once',
  { skip },
  async () => {
    const r = await rig();
    try {
      await r.ws.write('p.yaml', SLOW(3));
      const w1 = await r.addWorker({ lockMs: 1500 });
      const w2 = await r.addWorker({ lockMs: 1500 });
      const starts: Array<[string, string]> = [];
      const out = await r.run('p.yaml', {
        onStart: (stage, worker) => {
          starts.push([stage, worker]);
          if (stage === 'slow' && starts.filter(([s]) => s === 'slow').length === 1) {
            const victim = [w1, w2].find((w) => w.id === worker)!;
            // Once the stage is going, take the machine away.
            void stageStarted(r.ws, 'slow').then(() => victim.child.kill('SIGKILL'));
          }
        },
      });
      assert.equal(out.slow!.action, 'ran', out.slow!.message);
      assert.equal(out.after!.action, 'ran', out.after!.message);
      const slowStarts = starts.filter(([s]) => s === 'slow').map(([, w]) => w);
      assert.equal(slowStarts.length, 2, `taken up again: ${JSON.stringify(starts)}`);
      assert.notEqual(slowStarts[0], slowStarts[1]);
      assert.equal(out.slow!.worker, slowStarts[1], 'the result came from the second worker');
      const counts = await r.ws.runCounts();
      assert.equal(counts.slow, 2, 'the stage started twice (killed, then again)');
      assert.equal(counts.after, 1);
      const session = await Session.open(r.ws.path('run-cache'));
      try {
        assert.equal(session.index.outputsOfTree(out.slow!.treeHash!).length, 1, 'one output record for the stage');
      } finally {
        session.close();
      }
    } finally {
      await r.dispose();
    }
  },
);

test('a Redis restart (with persistence) mid-run loses no finished work', { skip }, async () => {
  const r = await rig({ persistent: true });
  try {
    await r.ws.write('p.yaml', SLOW(3));
    await r.addWorker({ lockMs: 5000 });
    let restarted: Promise<void> | undefined;
    const out = await r.run('p.yaml', {
      onStart: (stage) => {
        if (stage === 'slow') restarted ??= r.redis.restart();
      },
    });
    await restarted;
    for (const name of ['first', 'slow', 'after'])
      assert.equal(out[name]!.action, 'ran', `${name}: ${out[name]!.message}`);
    assert.deepEqual(await r.ws.runCounts(), { first: 1, slow: 1, after: 1 }, 'nothing ran twice');
  } finally {
    await r.dispose();
  }
});

test(
  'a Redis restart without persistence: vanished jobs are queued again, finished stages are not redone',
  { skip },
  async () => {
    const r = await rig();
    try {
      await r.ws.write('p.yaml', SLOW(2));
      await r.addWorker({ lockMs: 1500 });
      const notices: string[] = [];
      let restarted: Promise<void> | undefined;
      const out = await r.run('p.yaml', {
        onNotice: (m) => notices.push(m),
        onStart: (stage) => {
          if (stage === 'slow') restarted ??= r.redis.restart();
        },
      });
      await restarted;
      for (const name of ['first', 'slow', 'after'])
        assert.equal(out[name]!.action, 'ran', `${name}: ${out[name]!.message}`);
      assert.ok(
        notices.some((m) => /vanished from Redis/.test(m)),
        notices.join('\n'),
      );
      const counts = await r.ws.runCounts();
      assert.equal(counts.first, 1, 'the finished stage was not run again');
      assert.equal(counts.after, 1);
    } finally {
      await r.dispose();
    }
  },
);

const GPU = `stages:
  g1:
    cmd: "echo g1 > \${out}/name && date +%s.%N > \${out}/start && printf %s \\"$CUDA_VISIBLE_DEVICES\\" > \${out}/dev && sleep 1.5 && date +%s.%N > \${out}/end"
    resources: { gpu: 1 }
  g2:
    cmd: "echo g2 > \${out}/name && date +%s.%N > \${out}/start && printf %s \\"$CUDA_VISIBLE_DEVICES\\" > \${out}/dev && sleep 1.5 && date +%s.%N > \${out}/end"
    resources: { gpu: 1 }
  g3:
    cmd: "echo g3 > \${out}/name && date +%s.%N > \${out}/start && printf %s \\"$CUDA_VISIBLE_DEVICES\\" > \${out}/dev && sleep 1 && date +%s.%N > \${out}/end"
    resources: { gpu: 1 }
  both:
    cmd: "echo both > \${out}/name && date +%s.%N > \${out}/start && printf %s \\"$CUDA_VISIBLE_DEVICES\\" > \${out}/dev && sleep 1 && date +%s.%N > \${out}/end"
    resources: { gpu: 2 }
  cpu:
    cmd: "echo cpu > \${out}/name && date +%s.%N > \${out}/start && printf %s \\"$CUDA_VISIBLE_DEVICES\\" > \${out}/dev && date +%s.%N > \${out}/end"
`;

test(
  'GPU stages go only to a worker with free GPU tokens, one stage per GPU, CUDA_VISIBLE_DEVICES per job',
  { skip },
  async () => {
    const r = await rig();
    try {
      await r.ws.write('p.yaml', GPU);
      const cpuWorker = await r.addWorker({ gpus: 0, concurrency: 3 });
      const gpuWorker = await r.addWorker({ gpus: 2, concurrency: 3 });
      const out = await r.run('p.yaml');
      const session = await Session.open(r.ws.path('run-cache'));
      const read = (stage: string, file: string) =>
        readFile(join(session.store.pathOf(out[stage]!.treeHash!), file), 'utf8');
      const spans: Array<{ stage: string; dev: string[]; start: number; end: number }> = [];
      try {
        for (const stage of ['g1', 'g2', 'g3', 'both', 'cpu']) {
          assert.equal(out[stage]!.action, 'ran', `${stage}: ${out[stage]!.message}`);
          const dev = await read(stage, 'dev');
          spans.push({
            stage,
            dev: dev ? dev.split(',') : [],
            start: Number(await read(stage, 'start')),
            end: Number(await read(stage, 'end')),
          });
        }
      } finally {
        session.close();
      }
      for (const stage of ['g1', 'g2', 'g3', 'both'])
        assert.equal(out[stage]!.worker, gpuWorker.id, `${stage} ran on the GPU worker`);
      assert.ok([cpuWorker.id, gpuWorker.id].includes(out.cpu!.worker!));
      const byStage = Object.fromEntries(spans.map((s) => [s.stage, s]));
      assert.deepEqual(byStage.cpu!.dev, [], 'a CPU stage sees no GPU');
      assert.deepEqual(byStage.both!.dev.sort(), ['0', '1']);
      for (const g of ['g1', 'g2', 'g3']) assert.equal(byStage[g]!.dev.length, 1, `${g} got one GPU`);
      const gpuSpans = spans.filter((s) => s.dev.length > 0);
      for (const a of gpuSpans) {
        for (const b of gpuSpans) {
          if (a === b || a.end <= b.start || b.end <= a.start) continue;
          assert.ok(
            !a.dev.some((d) => b.dev.includes(d)),
            `${a.stage} and ${b.stage} overlapped on GPU ${a.dev} / ${b.dev}`,
          );
        }
      }
      assert.ok(
        gpuSpans.some((a) => gpuSpans.some((b) => a !== b && a.start < b.end && b.start < a.end)),
        'two 1-GPU stages ran at the same time on the two GPUs',
      );
    } finally {
      await r.dispose();
    }
  },
);

test(
  'a stage asking for more GPUs than any live worker has fails at once, naming what the fleet has',
  { skip },
  async () => {
    const r = await rig();
    try {
      await r.ws.write(
        'p.yaml',
        `stages:
  big:
    cmd: "echo big >> runs.log"
    resources: { gpu: 3 }
  next:
    cmd: "echo next >> runs.log"
    needs: [big]
  small:
    cmd: "echo small >> runs.log"
`,
      );
      const w = await r.addWorker({ gpus: 1 });
      const t0 = Date.now();
      const out = await r.run('p.yaml');
      assert.ok(Date.now() - t0 < 10_000, `failed fast (${Date.now() - t0} ms)`);
      assert.equal(out.big!.action, 'failed');
      assert.match(out.big!.message!, /asks for 3 GPU\(s\)/);
      assert.ok(out.big!.message!.includes(`${w.id} 1`), out.big!.message);
      assert.equal(out.next!.action, 'skipped');
      assert.equal(out.small!.action, 'ran', out.small!.message);
      assert.deepEqual(await r.ws.runCounts(), { small: 1 });
    } finally {
      await r.dispose();
    }
  },
);

const TWO_SLOW = `stages:
  s1:
    cmd: "echo s1 >> runs.log && sleep 30 && echo done > \${out}/done"
  s2:
    cmd: "echo s2 >> runs.log && sleep 30 && echo done > \${out}/done"
`;

test(
  'Ctrl-C on the run cancels its queued and running jobs; the worker stays up for the next run',
  { skip },
  async () => {
    const r = await rig();
    try {
      await r.ws.write('p.yaml', TWO_SLOW);
      await r.ws.write('q.yaml', 'stages:\n  quick:\n    cmd: "echo quick >> runs.log && echo ok > ${out}/ok"\n');
      const w = await r.addWorker({ concurrency: 1 });
      const controller = new AbortController();
      const t0 = Date.now();
      const out = await r.run('p.yaml', {
        signal: controller.signal,
        onStart: (stage) => void stageStarted(r.ws, stage).then(() => controller.abort()),
      });
      assert.ok(Date.now() - t0 < 20_000, `stopped quickly (${Date.now() - t0} ms)`);
      const actions = Object.values(out).map((o) => [o.name, o.action, o.message]);
      assert.deepEqual(actions, [
        ['s1', 'failed', 'interrupted'],
        ['s2', 'failed', 'interrupted'],
      ]);
      const counts = await r.ws.runCounts();
      assert.equal(Object.keys(counts).length, 1, `only the running stage had started: ${JSON.stringify(counts)}`);
      const queued = counts.s1 ? 's2' : 's1';
      await waitFor('the worker to stop the cancelled stage', () =>
        /cancelled by its run/.test(w.output()) ? true : undefined,
      );
      const next = await r.run('q.yaml');
      assert.equal(next.quick!.action, 'ran', next.quick!.message);
      assert.equal(next.quick!.worker, w.id);
      assert.equal((await r.ws.runCounts())[queued], undefined, `the queued ${queued} never ran`);
    } finally {
      await r.dispose();
    }
  },
);

const ONE = (seconds: number) =>
  `stages:\n  slow:\n    cmd: "echo slow >> runs.log && sleep ${seconds} && echo done > \${out}/done"\n`;

test(
  'Ctrl-C on a worker finishes its stage; a second Ctrl-C hands the job back to another worker',
  { skip },
  async () => {
    const r = await rig();
    try {
      await r.ws.write('p.yaml', ONE(2));
      const w1 = await r.addWorker();
      const out = await r.run('p.yaml', {
        onStart: (_stage, worker) => {
          if (worker === w1.id) w1.child.kill('SIGINT');
        },
      });
      assert.equal(out.slow!.action, 'ran', out.slow!.message);
      assert.equal(out.slow!.worker, w1.id, 'the draining worker finished the stage');
      assert.equal(await w1.exited, 130, w1.output());

      await r.ws.write('p.yaml', ONE(4));
      const w2 = await r.addWorker();
      const w3 = await r.addWorker();
      let handedBy: string | undefined;
      const out2 = await r.run('p.yaml', {
        onStart: (_stage, worker) => {
          if (handedBy) return;
          handedBy = worker;
          const w = [w2, w3].find((x) => x.id === worker)!;
          w.child.kill('SIGINT');
          setTimeout(() => w.child.kill('SIGINT'), 300);
        },
      });
      assert.equal(out2.slow!.action, 'ran', out2.slow!.message);
      assert.notEqual(out2.slow!.worker, handedBy, 'another worker took the handed-back job');
      const gone = [w2, w3].find((x) => x.id === handedBy)!;
      assert.equal(await gone.exited, 130);
      assert.match(gone.output(), /handed job .* back to the queue/);
    } finally {
      await r.dispose();
    }
  },
);

// 60 manifest lines over train/validation/test with two labels each: enough for the built-in split.
const GEN_MANIFEST = `out=$1; i=1
while [ $i -le 60 ]; do
  set=train; [ $((i % 4)) -eq 0 ] && set=validation; [ $((i % 10)) -eq 0 ] && set=test
  printf '{"imageId":"%s","set":"%s","labels":["%s","%s"],"file":"images/%s.jpg"}\\n' $i $set $((i % 5)) $((i % 3 + 10)) $i >> "$out/manifest.jsonl"
  i=$((i+1)); done
`;

const GREET = `import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { shout } from './helper.js';

export default {
  params: { type: 'object', properties: { name: { type: 'string', default: 'world' } }, additionalProperties: false },
  async run(ctx: { params: { name: string }; out: string; needs: Record<string, string>; metrics(v: object): void }) {
    writeFileSync(join(ctx.out, 'greeting.txt'), shout('hello ' + ctx.params.name));
    ctx.metrics({ length: ctx.params.name.length });
  },
};
`;

test(
  'module stages on workers: a built-in and a user module give the local bytes; a worker with other code refuses',
  { skip },
  async () => {
    const r = await rig();
    try {
      await r.ws.write(
        'stages/helper.ts',
        `export function shout(s: string): string {\n  return s.toUpperCase() + '!';\n}\n`,
      );
      await r.ws.write('stages/greet.ts', GREET);
      await r.ws.write('gen.sh', GEN_MANIFEST);
      await r.ws.write(
        'p.yaml',
        `stages:
  items:
    cmd: "sh gen.sh \${out}"
    deps: [gen.sh]
  split:
    uses: split
    needs: [items]
    params: { min_label_count: 2 }
  greet:
    uses: stages/greet.ts
    params: { name: tailor }
`,
      );
      const local = await r.ws.run(['p.yaml', '--cache', 'local-cache']);
      assert.equal(local.code, 0, local.result.stderr);
      // Content hashes: the outputs without metrics.json, which holds timings.
      const localContent = await latestTrees(r.ws.path('local-cache'), 'p', 'contentHash');
      await r.addWorker();
      const out = await r.run('p.yaml');
      for (const name of ['items', 'split', 'greet']) {
        assert.equal(out[name]!.action, 'ran', `${name}: ${out[name]!.message}`);
        assert.equal(out[name]!.contentHash, localContent[name], `${name} has the local run's output`);
      }

      // A machine whose checkout has another helper.ts must not fill the cache under this key.
      await r.ws.write(
        'elsewhere/stages/helper.ts',
        `export function shout(s: string): string {\n  return s + '?';\n}\n`,
      );
      await r.ws.write('elsewhere/stages/greet.ts', GREET);
      await r.workers[0]!.stop();
      const odd = await startWorker({
        redisUrl: r.redis.url,
        remoteUrl: r.remoteUrl,
        cacheDir: r.ws.path('odd-cache'),
        cwd: r.ws.dir,
        workdir: r.ws.path('elsewhere'),
      });
      r.workers.push(odd);
      await r.ws.write('p.yaml', (await r.ws.read('p.yaml')).replace('name: tailor', 'name: other'));
      const refused = await r.run('p.yaml');
      assert.equal(refused.greet!.action, 'failed');
      assert.match(
        refused.greet!.message!,
        /this worker's view of stage greet differs from the run's \(code stages\/helper.ts changed\)/,
      );
    } finally {
      await r.dispose();
    }
  },
);

test(
  'a run against a Redis nobody answers on fails its stages with that message instead of hanging',
  { skip },
  async () => {
    const ws = await Workspace.create('tailor-dist-');
    const executor = new RedisExecutor(`redis://127.0.0.1:${await freePort()}`, { connectTimeoutMs: 1000 });
    try {
      await ws.write('p.yaml', 'stages:\n  a:\n    cmd: "echo a > ${out}/a"\n');
      const remote = openRemote(pathToFileURL(ws.path('remote')).href);
      if (!remote.ok) throw new Error(remote.error);
      const out = await runDistributed(loadOrThrow('p.yaml', ws.dir), {
        cacheDir: ws.path('c'),
        executor,
        remote: remote.value,
      });
      assert.equal(out.a!.action, 'failed');
      assert.match(out.a!.message!, /cannot reach Redis at redis:\/\/127.0.0.1:\d+ \(no answer in 1 s\)/);
    } finally {
      await executor.close();
      await ws.dispose();
    }
  },
);
