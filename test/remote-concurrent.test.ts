/**
 * Two machines pushing the same keys at once, with no locks and no conditional writes: for a
 * deterministic stage both write the same blobs and manifest and equivalent records; for a stage
 * whose bytes differ run to run, whichever record lands names a complete output of its own. Either
 * way a pull afterwards restores one whole, verified output.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { Workspace, collect, withAction } from './helpers/rig.js';
import { REMOTE_KINDS, remoteKeys, startRemote, transfer } from './helpers/remote-rig.js';

const PIPELINE = `
stages:
  same:
    cmd: "for i in $(seq 1 200); do echo row $i > \${out}/r$i.txt; done"
  noisy:
    cmd: "head -c 2000 /dev/urandom > \${out}/noise.bin && for i in $(seq 1 100); do echo $i > \${out}/n$i.txt; done"
    needs: [same]
`;

for (const kind of REMOTE_KINDS) {
  test(`${kind}: two caches pushing the same keys at once`, async () => {
    const remote = await startRemote(kind);
    const machines = [await Workspace.create('tailor-remote-'), await Workspace.create('tailor-remote-')];
    const puller = await Workspace.create('tailor-remote-');
    try {
      for (const ws of [...machines, puller]) await ws.write('pipelines/p.yaml', PIPELINE);
      for (const ws of machines) assert.equal((await ws.run(['pipelines/p.yaml'])).code, 0);
      const results = await Promise.all(
        machines.map((ws) => collect(ws.spawn(['push', 'pipelines/p.yaml', '--json'], remote.env))),
      );
      for (const r of results) assert.equal(r.code, 0, r.stderr);
      assert.equal((await remoteKeys(remote.store, 'records/')).length, 2, 'one record per key');
      // `same` is byte-identical on both machines: one manifest; `noisy` may leave two.
      const trees = (await remoteKeys(remote.store, 'trees/')).length;
      assert.ok(trees === 2 || trees === 3, `trees: ${trees}`);

      const pull = await transfer(puller, 'pull', ['pipelines/p.yaml'], remote.env);
      assert.equal(pull.code, 0, pull.stderr);
      assert.deepEqual(pull.states, { same: 'pulled', noisy: 'pulled' });
      const run = await puller.run(['pipelines/p.yaml']);
      assert.deepEqual(withAction(run.actions, 'cached'), ['noisy', 'same']);
      // The restored noisy output is one of the two machines' outputs, whole.
      const restored = await noise(puller);
      const made = await Promise.all(machines.map(noise));
      assert.ok(
        made.some((m) => m.equals(restored)),
        'the restored bytes are one machine’s output',
      );
    } finally {
      for (const ws of [...machines, puller]) await ws.dispose();
      await remote.stop();
    }
  });
}

/** The noise.bin of a workspace's only object that has one. */
async function noise(ws: Workspace): Promise<Buffer> {
  for (const shard of await readdir(ws.path('cache', 'objects')))
    for (const obj of await readdir(ws.path('cache', 'objects', shard))) {
      const file = ws.path('cache', 'objects', shard, obj, 'noise.bin');
      const bytes = await readFile(file).catch(() => undefined);
      if (bytes) return bytes;
    }
  throw new Error(`no noise.bin in ${ws.dir}`);
}
