/**
 * The BullMQ executor against a real redis-server and real `tailor worker` processes, each with
 * its own cache, all sharing one file:// remote: the outputs of a local run, a worker SIGKILLed
 * mid-stage, Redis restarts with and without persistence, a Redis that does not answer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readFile } from 'node:fs/promises';
import { Workspace } from './helpers/rig.js';
import { freePort, redisMissing } from './helpers/services.js';
import { loadOrThrow, runDistributed } from './helpers/distributed-driver.js';
import { latestTrees, rig, stageStarted } from './helpers/distributed-rig.js';
import { RedisExecutor } from '../src/distributed/redis-executor.js';
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
      const localTrees = await latestTrees(r.ws.path('local-cache'), 'p.yaml');
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
        assert.equal(
          session.index.outputs.outputsOfTree(out.slow!.treeHash!).length,
          1,
          'one output record for the stage',
        );
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

test(
  'a run against a Redis nobody answers on fails its stages with that message instead of hanging',
  { skip },
  async () => {
    const ws = await Workspace.create('tailor-dist-');
    const executor = new RedisExecutor(`redis://127.0.0.1:${await freePort()}`, { connectTimeoutMs: 1000 });
    try {
      await ws.write('p.yaml', 'stages:\n  a:\n    cmd: "echo a > ${out}/a"\n');
      const out = await runDistributed(loadOrThrow('p.yaml', ws.dir), {
        cacheDir: ws.path('c'),
        executor,
        remoteUrl: pathToFileURL(ws.path('remote')).href,
      });
      assert.equal(out.a!.action, 'failed');
      assert.match(out.a!.message!, /cannot reach Redis at redis:\/\/127.0.0.1:\d+ \(no answer in 1 s\)/);
    } finally {
      await executor.close();
      await ws.dispose();
    }
  },
);
