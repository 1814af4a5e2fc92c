/**
 * A push SIGKILLed midway leaves nothing a pull would take (records are written last), and the
 * next push finishes the job without re-sending what already arrived; a pull SIGKILLed midway
 * leaves nothing registered, and the next pull completes. Against s3rver and a shared folder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChildProcess } from 'node:child_process';
import { Workspace, collect, withAction } from './helpers/rig.js';
import { REMOTE_KINDS, remoteKeys, startRemote, transfer, type RemoteKind } from './helpers/remote-rig.js';
import type { RemoteStore } from '../src/remote/remote-store.js';

/** Many small files (so a push takes a while) and one file big enough for a multipart upload. */
function pipeline(files: number): string {
  return `
stages:
  shards:
    cmd: "mkdir \${out}/s && for i in $(seq 1 ${files}); do echo shard $i > \${out}/s/$i.txt; done && head -c 24000000 /dev/urandom > \${out}/big.bin"
`;
}

const FILES: Record<RemoteKind, number> = { s3: 600, file: 3000 };

/** Wait until the remote holds at least `n` blobs, then SIGKILL the child. */
async function killAfterBlobs(child: ChildProcess, store: RemoteStore, n: number): Promise<number> {
  const exited = collect(child);
  for (let i = 0; i < 1500; i++) {
    const blobs = (await remoteKeys(store, 'blobs/')).length;
    if (blobs >= n) {
      child.kill('SIGKILL');
      break;
    }
    if (child.exitCode !== null) break;
    await sleep(10);
  }
  const r = await exited;
  return r.code;
}

for (const kind of REMOTE_KINDS) {
  test(`${kind}: a push killed midway leaves nothing a pull takes; the next push completes it`, async () => {
    const remote = await startRemote(kind);
    const a = await Workspace.create('tailor-remote-');
    const b = await Workspace.create('tailor-remote-');
    try {
      for (const ws of [a, b]) await ws.write('pipelines/p.yaml', pipeline(FILES[kind]));
      const run = await a.run(['pipelines/p.yaml']);
      assert.equal(run.code, 0, run.result.stderr);

      const child = a.spawn(['push', 'pipelines/p.yaml'], remote.env);
      await killAfterBlobs(child, remote.store, 20);
      assert.equal(child.signalCode, 'SIGKILL', 'the push was killed, not finished');
      assert.deepEqual(await remoteKeys(remote.store, 'records/'), [], 'no record was written');
      const partial = (await remoteKeys(remote.store, 'blobs/')).length;
      assert.ok(partial > 0 && partial < FILES[kind] + 1, `some blobs arrived (${partial})`);

      const miss = await transfer(b, 'pull', ['pipelines/p.yaml'], remote.env);
      assert.equal(miss.code, 0, miss.stderr);
      assert.deepEqual(miss.states, { shards: 'not-on-remote' });
      assert.deepEqual(await readdir(b.path('cache', 'objects')), [], 'nothing was restored');

      const again = await transfer(a, 'push', ['pipelines/p.yaml'], remote.env);
      assert.equal(again.code, 0, again.stderr);
      assert.deepEqual(again.states, { shards: 'pushed' });
      const sent = again.body.stages[0]!.objects;
      assert.ok(sent < FILES[kind] + 3, `the second push skipped what had arrived (sent ${sent})`);

      const pull = await transfer(b, 'pull', ['pipelines/p.yaml'], remote.env);
      assert.deepEqual(pull.states, { shards: 'pulled' });
      const cached = await b.run(['pipelines/p.yaml']);
      assert.deepEqual(withAction(cached.actions, 'cached'), ['shards']);
    } finally {
      await a.dispose();
      await b.dispose();
      await remote.stop();
    }
  });
}

test('file: a pull killed midway registers nothing; the next pull completes', async () => {
  const remote = await startRemote('file');
  const a = await Workspace.create('tailor-remote-');
  const b = await Workspace.create('tailor-remote-');
  try {
    for (const ws of [a, b]) await ws.write('pipelines/p.yaml', pipeline(FILES.file));
    assert.equal((await a.run(['pipelines/p.yaml'])).code, 0);
    assert.equal((await transfer(a, 'push', ['pipelines/p.yaml'], remote.env)).code, 0);

    const child = b.spawn(['pull', 'pipelines/p.yaml'], remote.env);
    const exited = collect(child);
    // Kill once the pull is writing into its temp folder.
    for (let i = 0; i < 1500 && child.exitCode === null; i++) {
      const tmp = await readdir(b.path('cache', 'tmp')).catch(() => [] as string[]);
      if (tmp.some((t) => t.includes('remote-shards'))) {
        await sleep(30);
        child.kill('SIGKILL');
        break;
      }
      await sleep(5);
    }
    await exited;
    assert.equal(child.signalCode, 'SIGKILL', 'the pull was killed, not finished');
    const status = await b.tailor(['status', 'pipelines/p.yaml', '--json']);
    assert.match(status.stdout, /never-run/, 'nothing registered');

    const pull = await transfer(b, 'pull', ['pipelines/p.yaml'], remote.env);
    assert.equal(pull.code, 0, pull.stderr);
    assert.deepEqual(pull.states, { shards: 'pulled' });
    const cached = await b.run(['pipelines/p.yaml']);
    assert.deepEqual(withAction(cached.actions, 'cached'), ['shards']);
    assert.deepEqual(await readdir(b.path('cache', 'remote-partial')), [], 'downloaded blob copies are cleaned up');
  } finally {
    await a.dispose();
    await b.dispose();
    await remote.stop();
  }
});
