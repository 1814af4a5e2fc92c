/** The experiment queue: a real worker process draining entries (some added while it runs), its crash states. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Workspace, collect } from './helpers/rig.js';
import { ExperimentQueue, MAX_ATTEMPTS, type QueueEntry } from '../src/exp/queue-db.js';

const PIPELINE = `
stages:
  slow:
    cmd: "echo slow >> runs.log && sleep \${params.sleep} && echo \${params.tag} > \${out}/t.txt"
    params: { sleep: 0, tag: x }
  check:
    cmd: "echo check >> runs.log && test \${params.ok} = yes && cp \${needs.slow}/t.txt \${out}/"
    needs: [slow]
    params: { ok: "yes" }
`;

async function queueList(ws: Workspace): Promise<QueueEntry[]> {
  const r = await ws.tailor(['exp', 'queue', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { queue: QueueEntry[] }).queue;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(150);
  }
}

test('exp queue --run drains the queue in order, picks up entries added while it runs, records failures', async () => {
  const ws = await Workspace.create('tailor-queue-');
  try {
    await ws.write('pipelines/q.yaml', PIPELINE);
    const add = async (...args: string[]) => {
      const r = await ws.tailor(['exp', 'queue', 'pipelines/q.yaml', ...args]);
      assert.equal(r.code, 0, r.stderr);
    };
    await add('--name', 'first', '--set', 'slow.sleep=3', '--set', 'slow.tag=one');
    await add('--name', 'broken', '--set', 'check.ok=no');
    await add('--name', 'second', '--set', 'slow.tag=two');
    const bad = await ws.tailor(['exp', 'queue', 'pipelines/q.yaml', '--name', 'typo', '--set', 'slwo.tag=x']);
    assert.equal(bad.code, 2, 'a pipeline that does not load is refused at queueing time');
    assert.match(bad.stderr, /slwo/);

    const worker = ws.spawn(['exp', 'queue', '--run', '--jobs', '1']);
    const done = collect(worker);
    // While "first" sleeps, queue one more: the worker must take it without a restart.
    await waitFor('first to start', async () => ((await queueList(ws))[0]?.state === 'running' ? true : undefined));
    await add('--name', 'late', '--set', 'slow.tag=late');
    const result = await done;
    assert.equal(result.code, 1, `one experiment failed, so the worker exits 1\n${result.stderr}`);
    assert.match(result.stderr, /queue: 3 done, 1 failed/);

    const entries = await queueList(ws);
    assert.deepEqual(
      entries.map((e) => [e.name, e.state]),
      [
        ['first', 'done'],
        ['broken', 'failed'],
        ['second', 'done'],
        ['late', 'done'],
      ],
    );
    assert.equal(entries[1]!.exitCode, 1);
    assert.ok(entries.every((e) => e.attempts === 1));
    // Runs happened one after another, in queue order.
    const started = entries.map((e) => e.startedAt!);
    assert.deepEqual(
      [...started].sort((a, b) => a - b),
      started,
    );

    const show = JSON.parse((await ws.tailor(['exp', 'show', '--json'])).stdout) as {
      experiments: Array<{ name: string; status: string }>;
    };
    assert.deepEqual(
      show.experiments.map((e) => [e.name, e.status]),
      [
        ['first', 'ok'],
        ['broken', 'failed'],
        ['second', 'ok'],
        ['late', 'ok'],
      ],
    );

    const list = await ws.tailor(['exp', 'queue']);
    assert.match(list.stdout, /^id\s+name\s+state\s+added\s+pipeline\s+sets\s+note/);
    assert.match(list.stdout, /broken\s+failed .* check\.ok=no\s+check failed: command exited with code 1/);
  } finally {
    await ws.dispose();
  }
});

test('a stopped worker puts its experiment back in the queue; the next worker finishes it', async () => {
  const ws = await Workspace.create('tailor-queue-');
  try {
    // The stage waits until the test creates \`release\`, so the first worker is stopped mid-stage.
    await ws.write(
      'pipelines/w.yaml',
      `stages:\n  wait:\n    cmd: "echo wait >> runs.log && while [ ! -f release ]; do sleep 0.1; done && echo ok > \${out}/x"\n`,
    );
    assert.equal((await ws.tailor(['exp', 'queue', 'pipelines/w.yaml', '--name', 'held'])).code, 0);
    const worker = ws.spawn(['exp', 'queue', '--run']);
    const done = collect(worker);
    await waitFor('the stage to start', async () => ((await ws.runCounts()).wait === 1 ? true : undefined));
    worker.kill('SIGTERM');
    const stopped = await done;
    assert.equal(stopped.code, 130, stopped.stderr);
    const [entry] = await queueList(ws);
    assert.equal(entry!.state, 'queued');
    assert.match(entry!.message ?? '', /interrupted/);
    assert.equal((await ws.tailor(['exp', 'queue', '--cancel', '99'])).code, 1, 'no such queued entry');

    await ws.write('release', '');
    const again = await collect(ws.spawn(['exp', 'queue', '--run']));
    assert.equal(again.code, 0, again.stderr);
    const [finished] = await queueList(ws);
    assert.deepEqual([finished!.name, finished!.state, finished!.attempts], ['held', 'done', 2]);
    const show = JSON.parse((await ws.tailor(['exp', 'show', '--json'])).stdout) as {
      experiments: Array<{ name: string; status: string }>;
    };
    assert.deepEqual(
      show.experiments.map((e) => e.status),
      ['interrupted', 'ok'],
    );
  } finally {
    await ws.dispose();
  }
});

test('queue states survive a dead worker: requeued, then failed after MAX_ATTEMPTS claims', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tailor-queue-db-'));
  const queue = ExperimentQueue.open(dir);
  try {
    // A pid that certainly belonged to a process that has exited.
    const gone = spawn(process.execPath, ['-e', '']);
    await once(gone, 'exit');
    const deadPid = gone.pid!;
    const alive = (pid: number) => pid === process.pid;

    const e = queue.add({ name: 'x', pipeline: '/p.yaml', workdir: '/', sets: ['a.b=1'] });
    assert.equal(e.state, 'queued');
    const other = queue.add({ name: 'y', pipeline: '/p.yaml', workdir: '/', sets: [] });

    const claimed = queue.claim(deadPid, 'h');
    assert.equal(claimed?.id, e.id, 'oldest first');
    assert.equal(claimed?.attempts, 1);
    const live = queue.claim(process.pid, 'h');
    assert.equal(live?.id, other.id);
    assert.equal(queue.claim(process.pid, 'h'), undefined, 'nothing left to claim');

    assert.deepEqual(
      queue.recoverDead('h', alive).map((x) => x.id),
      [e.id],
      'the live worker keeps its entry',
    );
    assert.equal(queue.get(e.id)?.state, 'queued');
    assert.equal(queue.get(other.id)?.state, 'running');
    assert.deepEqual(
      queue.recoverDead('other-host', () => false),
      [],
      'entries of other hosts are not judged here',
    );

    for (let attempt = 2; attempt <= MAX_ATTEMPTS; attempt++) {
      assert.equal(queue.claim(deadPid, 'h')?.attempts, attempt);
      queue.recoverDead('h', alive);
    }
    const failed = queue.get(e.id)!;
    assert.equal(failed.state, 'failed');
    assert.match(failed.message ?? '', /worker died/);
    assert.equal(queue.cancel(failed.id), false, 'only queued entries can be cancelled');
    assert.deepEqual(queue.get(e.id)?.sets, ['a.b=1']);
  } finally {
    queue.close();
    await rm(dir, { recursive: true, force: true });
  }
});
