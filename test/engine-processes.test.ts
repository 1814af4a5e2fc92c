/**
 * Processes and locks (issue 10, point 6), with real processes: a stage's whole tree is stopped
 * when it ends, on Ctrl-C, on its timeout and when tailor itself is SIGKILLed (a backgrounded
 * `sleep` does not hold the run, a daemon that left the process group does not survive); a
 * run paused past the lock's stale limit, whose lock was taken over meanwhile, commits nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Workspace, collect } from './helpers/rig.js';
import { assertNoStack, noneLeft, processesMatching } from './helpers/hostile.js';

/** A sleep whose command line is unique to this test, so it can be found among all processes. */
function marker(): { seconds: string; needle: string } {
  const seconds = `3${randomBytes(3).readUIntBE(0, 3) % 1000}.${randomBytes(2).readUInt16BE(0)}`;
  return { seconds, needle: `sleep ${seconds}` };
}

async function waitFor(ws: Workspace, rel: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ws.exists(rel)) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${rel}`);
    await sleep(50);
  }
}

test('a stage ends when its command exits: a backgrounded sleep does not hold the run, a daemon is killed', async () => {
  const ws = await Workspace.create();
  const bg = marker();
  const daemon = marker();
  try {
    await ws.write(
      'pipelines/b.yaml',
      `stages:
  background:
    cmd: "sleep ${bg.seconds} & echo ok > \${out}/o"
  daemon:
    cmd: "setsid sh -c 'sleep ${daemon.seconds}' > /dev/null 2>&1 < /dev/null & echo ok > \${out}/o"
`,
    );
    const started = Date.now();
    const r = await ws.run(['pipelines/b.yaml']);
    assert.equal(r.code, 0, r.result.stderr);
    assert.ok(Date.now() - started < 20_000, `the run took ${Date.now() - started} ms`);
    assert.ok(await noneLeft(bg.needle), 'the backgrounded sleep was killed');
    assert.ok(await noneLeft(daemon.needle), 'the daemon (its own session) was killed');
  } finally {
    await ws.dispose();
  }
});

test('SIGKILL of tailor takes every stage process down, daemons included', async () => {
  const ws = await Workspace.create();
  const [a, b, c] = [marker(), marker(), marker()];
  try {
    await ws.write(
      'pipelines/k.yaml',
      `stages:
  tree:
    cmd: "setsid sh -c 'sleep ${a.seconds}' > /dev/null 2>&1 < /dev/null & sleep ${b.seconds} & touch started && sleep ${c.seconds}"
`,
    );
    const child = ws.spawn(['run', 'pipelines/k.yaml']);
    const done = collect(child);
    await waitFor(ws, 'started');
    for (const m of [a, b, c]) assert.equal(processesMatching(m.needle).length, 1, `${m.needle} runs`);
    child.kill('SIGKILL');
    await done;
    for (const m of [a, b, c]) assert.ok(await noneLeft(m.needle), `${m.needle} outlived tailor`);
  } finally {
    await ws.dispose();
  }
});

test('Ctrl-C stops the stage and everything it started; exit 130', async () => {
  const ws = await Workspace.create();
  const [a, b] = [marker(), marker()];
  try {
    await ws.write(
      'pipelines/c.yaml',
      `stages:\n  tree:\n    cmd: "sleep ${a.seconds} & touch started && sleep ${b.seconds}"\n`,
    );
    const child = ws.spawn(['run', 'pipelines/c.yaml']);
    const done = collect(child);
    await waitFor(ws, 'started');
    child.kill('SIGINT');
    const r = await done;
    assert.equal(r.code, 130, r.stderr);
    assertNoStack(r.stderr);
    for (const m of [a, b]) assert.ok(await noneLeft(m.needle), `${m.needle} survived Ctrl-C`);
  } finally {
    await ws.dispose();
  }
});

test('timeout: a stage past its limit is stopped with its children and fails with one line', async () => {
  const ws = await Workspace.create();
  const [a, b] = [marker(), marker()];
  try {
    await ws.write(
      'pipelines/t.yaml',
      `stages:
  slow:
    cmd: "sleep ${a.seconds} & sleep ${b.seconds}"
    timeout: 1s
  quick:
    cmd: "echo ok > \${out}/o"
    timeout: 1m
  after:
    cmd: "true"
    needs: [slow]
`,
    );
    const started = Date.now();
    const r = await ws.run(['pipelines/t.yaml']);
    assert.equal(r.code, 1);
    assert.deepEqual(r.actions, { slow: 'failed', quick: 'ran', after: 'skipped' });
    assert.match(r.result.stderr, /slow failed: timed out after 1 s/);
    assert.ok(Date.now() - started < 15_000, `stopped after ${Date.now() - started} ms`);
    for (const m of [a, b]) assert.ok(await noneLeft(m.needle), `${m.needle} survived the timeout`);
  } finally {
    await ws.dispose();
  }
});

test('a malformed timeout is a pipeline error at its position', async () => {
  const ws = await Workspace.create();
  try {
    await ws.write('pipelines/m.yaml', `stages:\n  a:\n    cmd: "true"\n    timeout: soon\n`);
    const r = await ws.tailor(['status', 'pipelines/m.yaml']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /m\.yaml:4:\d+/);
    assert.match(r.stderr, /timeout/);
  } finally {
    await ws.dispose();
  }
});

test('a run paused past the stale limit loses its lock and commits nothing; the run that took over is what counts', async () => {
  const ws = await Workspace.create();
  try {
    await ws.write(
      'pipelines/s.yaml',
      `stages:\n  s:\n    cmd: "touch started-$WHO && sleep 2 && echo $WHO > \${out}/who"\n`,
    );
    const env = { TAILOR_LOCK_STALE_SECONDS: '2' };
    const first = ws.spawn(['run', 'pipelines/s.yaml'], { ...env, WHO: 'A' });
    const firstDone = collect(first);
    await waitFor(ws, 'started-A');
    process.kill(first.pid!, 'SIGSTOP'); // its stage goes on; tailor itself is frozen past the stale limit
    await sleep(3000);
    const second = await ws.run(['pipelines/s.yaml', '--wait', '20'], { ...env, WHO: 'B' });
    assert.equal(second.code, 0, second.result.stderr);
    assert.equal(second.actions.s, 'ran');
    process.kill(first.pid!, 'SIGCONT');
    const a = await firstDone;
    assert.equal(a.code, 3, `the paused run ends as "lock lost": ${a.stderr}`);
    assert.match(a.stderr, /lost the cache lock/);
    assertNoStack(a.stderr);
    const out = JSON.parse((await ws.tailor(['show', 'pipelines/s.yaml', 's', '--json'])).stdout) as { out: string };
    assert.equal(await readFile(join(out.out, 'who'), 'utf8'), 'B\n', 'the latest output is the second run’s');
    const status = await ws.tailor(['status', 'pipelines/s.yaml']);
    assert.match(status.stdout, /s\s+fresh/);
  } finally {
    await ws.dispose();
  }
});
