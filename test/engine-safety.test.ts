/** Crash safety: SIGKILL and Ctrl-C mid-stage, two runs on one cache, corrupted cache objects. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, writeFile, chmod } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Workspace, collect, withAction } from './helpers/rig.js';

// `slow` writes a marker file when it starts, then sleeps: the test kills tailor while it sleeps.
const SLOW = `stages:
  first:
    cmd: "echo first >> runs.log && echo 1 > \${out}/one"
  slow:
    cmd: "echo slow >> runs.log && echo partial > \${out}/part && touch started && sleep \${params.seconds} && echo done > \${out}/done"
    needs: [first]
    params: { seconds: 30 }
`;

async function waitFor(ws: Workspace, rel: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!ws.exists(rel)) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${rel}`);
    await sleep(50);
  }
}

async function tmpEntries(ws: Workspace): Promise<string[]> {
  return existsSync(ws.path('cache/tmp')) ? readdir(ws.path('cache/tmp')) : [];
}

test('SIGKILL of tailor mid-stage registers nothing; the next run cleans up and completes', async () => {
  const ws = await Workspace.create();
  try {
    await ws.write('pipelines/s.yaml', SLOW);
    const child = ws.spawn(['run', 'pipelines/s.yaml']);
    const done = collect(child);
    await waitFor(ws, 'started');
    child.kill('SIGKILL');
    await done;
    // The stage's child process notices its parent is gone and stops too.
    await sleep(500);

    const status = JSON.parse((await ws.tailor(['status', 'pipelines/s.yaml', '--json'])).stdout) as {
      stages: Array<{ name: string; state: string }>;
    };
    assert.deepEqual(
      status.stages.map((s) => s.state),
      ['fresh', 'never-run'],
      'the killed stage has no registered output',
    );

    await ws.write('pipelines/s.yaml', SLOW.replace('seconds: 30', 'seconds: 0'));
    await ws.clearRuns();
    const r = await ws.run(['pipelines/s.yaml']);
    assert.equal(r.code, 0, r.result.stderr);
    assert.deepEqual(r.actions, { first: 'cached', slow: 'ran' });
    assert.deepEqual(await tmpEntries(ws), [], 'leftover temp output removed');
  } finally {
    await ws.dispose();
  }
});

test('Ctrl-C (SIGINT) stops the running stage, keeps the previous good output and exits 130', async () => {
  const ws = await Workspace.create();
  try {
    await ws.write('pipelines/s.yaml', SLOW.replace('seconds: 30', 'seconds: 0'));
    assert.equal((await ws.run(['pipelines/s.yaml'])).code, 0);
    const before = JSON.parse((await ws.tailor(['show', 'pipelines/s.yaml', 'slow', '--json'])).stdout) as {
      out: string;
    };

    await ws.write('pipelines/s.yaml', SLOW.replace('seconds: 30', 'seconds: 20'));
    await ws.clearRuns();
    const { rm } = await import('node:fs/promises');
    await rm(ws.path('started'), { force: true });
    const child = ws.spawn(['run', 'pipelines/s.yaml']);
    const done = collect(child);
    await waitFor(ws, 'started');
    child.kill('SIGINT');
    const result = await done;
    assert.equal(result.code, 130, result.stderr);
    assert.deepEqual(await tmpEntries(ws), [], 'interrupted output removed at once');
    assert.ok(existsSync(`${before.out}/done`), 'previous good output untouched');
    const lockHeld = existsSync(ws.path('cache/lock.json'));
    assert.equal(lockHeld, false, 'lock released');
  } finally {
    await ws.dispose();
  }
});

test('two tailor runs on one cache: the second says who holds the lock, or waits for it', async () => {
  const ws = await Workspace.create();
  try {
    // Long enough for the second tailor to start and load while the first holds the lock, on a loaded machine too.
    await ws.write('pipelines/s.yaml', SLOW.replace('seconds: 30', 'seconds: 10'));
    const first = ws.spawn(['run', 'pipelines/s.yaml']);
    const firstDone = collect(first);
    await waitFor(ws, 'started');
    const refused = await ws.tailor(['run', 'pipelines/s.yaml']);
    assert.equal(refused.code, 3);
    assert.match(refused.stderr, new RegExp(`held by pid ${first.pid}`));

    const waited = await ws.run(['pipelines/s.yaml', '--wait', '60']);
    assert.equal(waited.code, 0, waited.result.stderr);
    assert.deepEqual(
      withAction(waited.actions, 'cached'),
      ['first', 'slow'],
      'the waiting run reuses what the first produced',
    );
    assert.equal((await firstDone).code, 0);
    assert.deepEqual(await ws.runCounts(), { first: 1, slow: 1 });
  } finally {
    await ws.dispose();
  }
});

test('a corrupted or missing cache object is detected on restore and the stage reruns', async () => {
  const ws = await Workspace.create();
  try {
    await ws.write(
      'pipelines/c.yaml',
      `stages:\n  make:\n    cmd: "echo make >> runs.log && echo original > \${out}/data.txt"\n  use:\n    cmd: "cat \${needs.make}/data.txt > \${out}/copy.txt"\n    needs: [make]\n`,
    );
    assert.equal((await ws.run(['pipelines/c.yaml'])).code, 0);
    const { out } = JSON.parse((await ws.tailor(['show', 'pipelines/c.yaml', 'make', '--json'])).stdout) as {
      out: string;
    };
    await chmod(`${out}/data.txt`, 0o644);
    await writeFile(`${out}/data.txt`, 'tampered\n');

    await ws.clearRuns();
    const r = await ws.run(['pipelines/c.yaml']);
    assert.equal(r.code, 0, r.result.stderr);
    assert.equal(r.actions.make, 'ran');
    assert.match(r.result.stderr, /corrupt/);
    assert.deepEqual(await ws.runCounts(), { make: 1 });
    const fresh = JSON.parse((await ws.tailor(['show', 'pipelines/c.yaml', 'use', '--json'])).stdout) as {
      out: string;
    };
    assert.equal(await (await import('node:fs/promises')).readFile(`${fresh.out}/copy.txt`, 'utf8'), 'original\n');
  } finally {
    await ws.dispose();
  }
});
