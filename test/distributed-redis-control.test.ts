/**
 * The BullMQ executor's routing and control, against a real redis-server and real workers: GPU
 * tokens per job, an oversize GPU request, Ctrl-C on the run and on a worker, module stages and a
 * worker whose code differs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { redisMissing } from './helpers/services.js';
import { startWorker, waitFor } from './helpers/distributed-workers.js';
import { latestTrees, rig, stageStarted } from './helpers/distributed-rig.js';
import { Session } from '../src/run/session.js';

const skip = redisMissing();

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
      const localContent = await latestTrees(r.ws.path('local-cache'), 'p.yaml', 'contentHash');
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
