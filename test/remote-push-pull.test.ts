/**
 * Push from one cache, pull into a fresh one with nothing run, against s3rver and a shared folder;
 * and what a corrupted or deleted remote object does: a miss (nothing registered, the stage is not
 * restored) after which `tailor run` reruns the stage and gets the right output.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { hashBytes } from '../src/cache/hash.js';
import { blobKey, recordKey } from '../src/remote/layout.js';
import { Workspace, withAction } from './helpers/rig.js';
import { REMOTE_KINDS, remoteKeys, startRemote, transfer, type TestRemote } from './helpers/remote-rig.js';

const PIPELINE = `
stages:
  make:
    cmd: "echo make >> runs.log && mkdir -p \${out}/parts \${out}/empty && for i in 1 2 3; do echo part $i > \${out}/parts/p$i.txt; done && echo \${params.n} > \${out}/n.txt && head -c 300000 /dev/zero > \${out}/zeros.bin && ln -s n.txt \${out}/link && echo '{\\"n\\": \${params.n}}' > \${out}/metrics.json"
    params: { n: 1 }
  use:
    cmd: "echo use >> runs.log && cat \${needs.make}/n.txt \${needs.make}/parts/p1.txt > \${out}/use.txt"
    needs: [make]
    export: { use.txt: outputs/use.txt }
`;

async function workspace(): Promise<Workspace> {
  const ws = await Workspace.create('tailor-remote-');
  await ws.write('pipelines/p.yaml', PIPELINE);
  return ws;
}

/** A workspace that ran the pipeline and pushed it. */
async function pushed(remote: TestRemote): Promise<Workspace> {
  const ws = await workspace();
  const run = await ws.run(['pipelines/p.yaml']);
  assert.equal(run.code, 0, run.result.stderr);
  const push = await transfer(ws, 'push', ['pipelines/p.yaml'], remote.env);
  assert.equal(push.code, 0, push.stderr);
  assert.deepEqual(push.states, { make: 'pushed', use: 'pushed' });
  return ws;
}

async function objectCount(ws: Workspace): Promise<number> {
  let n = 0;
  for (const shard of await readdir(ws.path('cache', 'objects')).catch(() => []))
    n += (await readdir(ws.path('cache', 'objects', shard))).length;
  return n;
}

for (const kind of REMOTE_KINDS) {
  test(`${kind}: push, then pull into a fresh cache: everything cached, nothing runs`, async () => {
    const remote = await startRemote(kind);
    const a = await pushed(remote);
    const b = await workspace();
    try {
      const again = await transfer(a, 'push', ['pipelines/p.yaml'], remote.env);
      assert.deepEqual(again.states, { make: 'up-to-date', use: 'up-to-date' }, 'a second push moves nothing');
      assert.equal(
        again.body.stages.reduce((t, s) => t + s.objects, 0),
        0,
      );

      const pull = await transfer(b, 'pull', ['pipelines/p.yaml'], remote.env);
      assert.equal(pull.code, 0, pull.stderr);
      assert.deepEqual(pull.states, { make: 'pulled', use: 'pulled' });
      const make = pull.body.stages.find((s) => s.name === 'make')!;
      // 6 distinct files (p1-p3, n.txt, zeros.bin, metrics.json), the manifest and the record.
      assert.equal(make.objects, 8);
      assert.ok(make.bytes > 300_000);

      const status = await b.tailor(['status', 'pipelines/p.yaml', '--json']);
      assert.deepEqual(
        (JSON.parse(status.stdout) as { stages: Array<{ state: string }> }).stages.map((s) => s.state),
        ['fresh', 'fresh'],
      );
      const run = await b.run(['pipelines/p.yaml']);
      assert.equal(run.code, 0, run.result.stderr);
      assert.deepEqual(withAction(run.actions, 'cached'), ['make', 'use']);
      assert.deepEqual(await b.runCounts(), {}, 'no stage ran in the pulling workspace');
      assert.equal(await b.read('outputs/use.txt'), '1\npart 1\n');
      const show = await b.tailor(['show', 'pipelines/p.yaml', 'make', '--json']);
      assert.match(show.stdout, /"n":\s*1/, 'metrics came along');

      const twice = await transfer(b, 'pull', ['pipelines/p.yaml'], remote.env);
      assert.deepEqual(twice.states, { make: 'present', use: 'present' }, 'a second pull moves nothing');
    } finally {
      await a.dispose();
      await b.dispose();
      await remote.stop();
    }
  });

  test(`${kind}: a corrupted blob and a deleted one are misses; the stage then reruns`, async () => {
    const remote = await startRemote(kind);
    const a = await pushed(remote);
    const b = await workspace();
    try {
      // Same length, other bytes: only the content hash can tell.
      const p1 = blobKey(hashBytes('part 1\n'));
      assert.ok(await remote.store.head(p1));
      await remote.store.put(p1, { bytes: Buffer.from('part X\n') });
      const pull = await transfer(b, 'pull', ['pipelines/p.yaml'], remote.env);
      assert.equal(pull.code, 0, pull.stderr);
      assert.deepEqual(pull.states, { make: 'not-on-remote', use: 'blocked' });
      assert.match(pull.body.stages[0]!.reason ?? '', /does not match its hash/);
      assert.equal(await objectCount(b), 0, 'nothing entered the store');
      const status = await b.tailor(['status', 'pipelines/p.yaml', '--json']);
      assert.match(status.stdout, /never-run/);

      const run = await b.run(['pipelines/p.yaml']);
      assert.deepEqual(withAction(run.actions, 'ran'), ['make', 'use']);
      assert.deepEqual(await b.runCounts(), { make: 1, use: 1 });
      assert.equal(await b.read('outputs/use.txt'), '1\npart 1\n');

      // The pushing side still has the good bytes: a push repairs nothing it cannot see (same size),
      // but a deleted blob is noticed and uploaded again.
      await remote.store.delete([p1]);
      const c = await workspace();
      try {
        const miss = await transfer(c, 'pull', ['pipelines/p.yaml'], remote.env);
        assert.deepEqual(miss.states, { make: 'not-on-remote', use: 'blocked' });
        assert.match(miss.body.stages[0]!.reason ?? '', /missing/);
        const repair = await transfer(a, 'push', ['pipelines/p.yaml'], remote.env);
        assert.deepEqual(repair.states, { make: 'pushed', use: 'up-to-date' });
        const ok = await transfer(c, 'pull', ['pipelines/p.yaml'], remote.env);
        assert.deepEqual(ok.states, { make: 'pulled', use: 'pulled' });
      } finally {
        await c.dispose();
      }
    } finally {
      await a.dispose();
      await b.dispose();
      await remote.stop();
    }
  });
}

test('file: a corrupt record and a missing manifest are misses', async () => {
  const remote = await startRemote('file');
  const a = await pushed(remote);
  const b = await workspace();
  try {
    const records = await remoteKeys(remote.store, 'records/');
    assert.equal(records.length, 2);
    const push = await transfer(a, 'push', ['pipelines/p.yaml'], remote.env);
    const makeKey = push.body.stages.find((s) => s.name === 'make')!.key!;
    const rec = (await remote.store.read(recordKey(makeKey)))!;
    await remote.store.put(recordKey(makeKey), { bytes: rec.subarray(0, rec.length - 20) });
    const cut = await transfer(b, 'pull', ['pipelines/p.yaml'], remote.env);
    assert.deepEqual(cut.states, { make: 'not-on-remote', use: 'blocked' });
    assert.match(cut.body.stages[0]!.reason ?? '', /record is unusable/);

    await remote.store.put(recordKey(makeKey), { bytes: rec });
    const trees = await remoteKeys(remote.store, 'trees/');
    await remote.store.delete(trees);
    const gone = await transfer(b, 'pull', ['pipelines/p.yaml'], remote.env);
    assert.deepEqual(gone.states, { make: 'not-on-remote', use: 'blocked' });
    assert.match(gone.body.stages[0]!.reason ?? '', /missing tree manifest/);
    assert.equal(await objectCount(b), 0);
  } finally {
    await a.dispose();
    await b.dispose();
    await remote.stop();
  }
});

test('push and pull need a remote and name unknown stages', async () => {
  const ws = await workspace();
  try {
    const none = await ws.tailor(['push', 'pipelines/p.yaml'], { TAILOR_REMOTE: '' });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no remote given/);
    const bad = await ws.tailor(['pull', 'pipelines/p.yaml', '--remote', 'ftp://x']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unsupported remote/);
    const stage = await ws.tailor(['pull', 'pipelines/p.yaml', '--remote', 'file:///tmp/x', '--stage', 'mkae']);
    assert.equal(stage.code, 2);
    assert.match(stage.stderr, /no stage "mkae".*make/);
  } finally {
    await ws.dispose();
  }
});
