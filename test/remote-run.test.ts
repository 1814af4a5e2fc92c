/**
 * `tailor run --remote` in a team: machine A runs with --push, machine B (its own cache) runs with
 * --remote and restores every stage without running any, against s3rver and a shared folder; and
 * remote faults never fail a run: a corrupt object (at rest or on the wire) is a miss and that
 * stage runs, a remote that is down or never answers is one warning and every stage runs here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashBytes } from '../src/cache/hash.js';
import { CacheIndex } from '../src/cache/index-db.js';
import { blobKey } from '../src/remote/layout.js';
import { Workspace } from './helpers/rig.js';
import { startFaultProxy, type FaultRule } from './helpers/fault-proxy.js';
import { REMOTE_KINDS, remoteKeys, startRemote, type TestRemote } from './helpers/remote-rig.js';

const PIPELINE = `
stages:
  make:
    cmd: "echo make >> runs.log && mkdir -p \${out}/parts && for i in 1 2 3; do echo part $i > \${out}/parts/p$i.txt; done && echo \${params.n} > \${out}/n.txt && echo '{\\"n\\": \${params.n}}' > \${out}/metrics.json"
    params: { n: 1 }
  use:
    cmd: "echo use >> runs.log && cat \${needs.make}/n.txt \${needs.make}/parts/p1.txt > \${out}/use.txt"
    needs: [make]
    export: { use.txt: outputs/use.txt }
`;

/** A hung remote must fail the test, not stall the suite. */
const LIMIT = { timeout: 240_000 };

interface RunJson {
  stages: Array<{ name: string; action: string; from?: string }>;
}

async function workspace(): Promise<Workspace> {
  const ws = await Workspace.create('tailor-remote-run-');
  await ws.write('pipelines/p.yaml', PIPELINE);
  return ws;
}

/** `run --json` parsed: name -> "action" or "action/from". */
function actionsFrom(stdout: string): Record<string, string> {
  const body = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as RunJson;
  return Object.fromEntries(body.stages.map((s) => [s.name, s.from ? `${s.action}/${s.from}` : s.action]));
}

/** Machine A: run with --push (TAILOR_REMOTE names the remote). */
async function ranAndPushed(remote: TestRemote): Promise<Workspace> {
  const a = await workspace();
  const run = await a.run(['pipelines/p.yaml', '--push'], remote.env);
  assert.equal(run.code, 0, run.result.stderr);
  assert.deepEqual(actionsFrom(run.result.stdout), { make: 'ran', use: 'ran' });
  assert.equal((await remoteKeys(remote.store, 'records/')).length, 2, 'both records pushed as committed');
  return a;
}

function count(text: string, pattern: RegExp): number {
  return text.split('\n').filter((l) => pattern.test(l)).length;
}

for (const kind of REMOTE_KINDS) {
  test(`${kind}: A runs and pushes, B runs with --remote: every stage restored, none run`, LIMIT, async () => {
    const remote = await startRemote(kind);
    const a = await ranAndPushed(remote);
    const b = await workspace();
    try {
      const status = await b.tailor(['status', 'pipelines/p.yaml', '--json', '--remote', remote.url], remote.env);
      assert.equal(status.code, 0, status.stderr);
      const planned = JSON.parse(status.stdout) as { stages: Array<{ name: string; state: string; remote: unknown }> };
      assert.deepEqual(
        planned.stages.map((s) => [s.name, s.state, s.remote]),
        [
          ['make', 'never-run', true],
          ['use', 'never-run', true],
        ],
        'use is keyed from the remote record of make',
      );

      const run = await b.run(['pipelines/p.yaml', '--remote', remote.url], remote.env);
      assert.equal(run.code, 0, run.result.stderr);
      assert.deepEqual(actionsFrom(run.result.stdout), { make: 'cached/remote', use: 'cached/remote' });
      assert.deepEqual(await b.runCounts(), {}, 'nothing ran on B');
      assert.equal(await b.read('outputs/use.txt'), '1\npart 1\n', 'exports written from the restored output');
      const show = await b.tailor(['show', 'pipelines/p.yaml', 'make', '--json']);
      assert.match(show.stdout, /"n":\s*1/, 'metrics came along');

      const index = CacheIndex.open(b.path('cache'));
      try {
        const [last] = index.runs.listRuns({ limit: 1 });
        const rows = index.runs.stageRunsOf(last!.id);
        assert.deepEqual(
          rows.map((r) => [r.stage, r.action, r.source]),
          [
            ['make', 'cached', 'remote'],
            ['use', 'cached', 'remote'],
          ],
          'run history says where the outputs came from',
        );
      } finally {
        index.close();
      }

      const again = await b.run(['pipelines/p.yaml'], remote.env);
      assert.deepEqual(actionsFrom(again.result.stdout), { make: 'cached', use: 'cached' }, 'now local');
      const text = await b.tailor(['status', 'pipelines/p.yaml'], remote.env);
      assert.match(text.stdout, /make\s+fresh\s+\[on remote\]/);
    } finally {
      await a.dispose();
      await b.dispose();
      await remote.stop();
    }
  });

  test(`${kind}: a corrupted remote object is detected: that stage runs, the next is restored`, LIMIT, async () => {
    const remote = await startRemote(kind);
    const a = await ranAndPushed(remote);
    const b = await workspace();
    try {
      // Same length, other bytes: only the content hash can tell.
      const p1 = blobKey(hashBytes('part 1\n'));
      assert.ok(await remote.store.head(p1));
      await remote.store.put(p1, { bytes: Buffer.from('part X\n') });
      const run = await b.run(['pipelines/p.yaml'], remote.env);
      assert.equal(run.code, 0, run.result.stderr);
      // make's bytes are the same as A's, so use's key is A's and its output comes from the remote.
      assert.deepEqual(actionsFrom(run.result.stdout), { make: 'ran', use: 'cached/remote' });
      assert.deepEqual(await b.runCounts(), { make: 1 });
      assert.equal(await b.read('outputs/use.txt'), '1\npart 1\n', 'the right bytes, never the corrupt ones');
      assert.equal(
        count(run.result.stderr, /make: remote cache miss: .*does not match its hash/),
        1,
        run.result.stderr,
      );
    } finally {
      await a.dispose();
      await b.dispose();
      await remote.stop();
    }
  });
}

/** B's run through a proxy in front of A's s3rver that treats requests by `rule`. */
async function runThroughProxy(
  rule: FaultRule,
  extraEnv: Record<string, string>,
  args: string[] = [],
): Promise<{ actions: Record<string, string>; stderr: string; code: number; ms: number; b: Workspace }> {
  const remote = await startRemote('s3');
  const a = await ranAndPushed(remote);
  const proxy = await startFaultProxy(remote.endpoint!, rule);
  const b = await workspace();
  try {
    const started = Date.now();
    const env = { ...remote.env, AWS_ENDPOINT_URL: proxy.endpoint, ...extraEnv };
    const run = await b.run(['pipelines/p.yaml', ...args], env);
    return {
      actions: actionsFrom(run.result.stdout),
      stderr: run.result.stderr,
      code: run.code,
      ms: Date.now() - started,
      b,
    };
  } finally {
    await proxy.stop();
    await a.dispose();
    await remote.stop();
  }
}

test('s3 down (every connection dropped): one warning, every stage runs, the run succeeds', LIMIT, async () => {
  const r = await runThroughProxy(() => 'drop', { AWS_MAX_ATTEMPTS: '2' }, ['--push']);
  try {
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.actions, { make: 'ran', use: 'ran' });
    assert.deepEqual(await r.b.runCounts(), { make: 1, use: 1 });
    assert.equal(count(r.stderr, /unavailable/), 1, r.stderr);
    assert.match(r.stderr, /remote cache s3:\/\/tailor\/team unavailable .*not using it for the rest of this run/);
    assert.equal(await r.b.read('outputs/use.txt'), '1\npart 1\n');
  } finally {
    await r.b.dispose();
  }
});

test('s3 that never answers: the request times out, one warning, every stage runs', LIMIT, async () => {
  const r = await runThroughProxy(() => 'hang', { AWS_MAX_ATTEMPTS: '1', TAILOR_REMOTE_TIMEOUT: '1' });
  try {
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.actions, { make: 'ran', use: 'ran' });
    assert.equal(count(r.stderr, /unavailable/), 1, r.stderr);
    assert.ok(r.ms < 30_000, `the timeout ended the wait (${r.ms} ms)`);
  } finally {
    await r.b.dispose();
  }
});

test('s3 blobs corrupted on the wire: caught by the hash check, the stages run', LIMIT, async () => {
  const corruptBlobs: FaultRule = ({ method, url }) =>
    method === 'GET' && url.includes('/blobs/') ? 'corrupt' : 'pass';
  const r = await runThroughProxy(corruptBlobs, {});
  try {
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.actions, { make: 'ran', use: 'ran' });
    assert.equal(await r.b.read('outputs/use.txt'), '1\npart 1\n');
    assert.match(r.stderr, /make: remote cache miss/);
  } finally {
    await r.b.dispose();
  }
});

test('--push needs a remote; a bad remote URL is a usage error', LIMIT, async () => {
  const ws = await workspace();
  try {
    const push = await ws.tailor(['run', 'pipelines/p.yaml', '--push'], { TAILOR_REMOTE: '' });
    assert.equal(push.code, 2);
    assert.match(push.stderr, /--push needs a remote/);
    const bad = await ws.tailor(['run', 'pipelines/p.yaml', '--remote', 'ftp://x']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unsupported remote/);
    assert.deepEqual(await ws.runCounts(), {});
  } finally {
    await ws.dispose();
  }
});
