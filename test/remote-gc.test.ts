/**
 * `tailor gc --remote`: what no lock file or recent run refers to goes (records, then manifests,
 * then blobs no remaining manifest names); blobs shared with kept outputs stay; --dry-run removes
 * nothing; the grace period keeps recent pushes. Against s3rver and a shared folder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Workspace } from './helpers/rig.js';
import { REMOTE_KINDS, remoteKeys, startRemote, transfer } from './helpers/remote-rig.js';

const pipeline = (n: number) => `
stages:
  make:
    cmd: "echo shared > \${out}/shared.txt && echo ${n} > \${out}/n.txt"
  use:
    cmd: "cat \${needs.make}/n.txt > \${out}/use.txt"
    needs: [make]
`;

interface GcJson {
  dryRun: boolean;
  records: { removed: number; kept: number };
  manifests: { removed: number; kept: number };
  blobs: { removed: number; kept: number };
}

for (const kind of REMOTE_KINDS) {
  test(`${kind}: gc --remote keeps what the lock file names and removes the rest`, async () => {
    const remote = await startRemote(kind);
    const a = await Workspace.create('tailor-remote-');
    try {
      for (const n of [1, 2]) {
        await a.write('pipelines/p.yaml', pipeline(n));
        assert.equal((await a.run(['pipelines/p.yaml'])).code, 0);
        assert.equal((await transfer(a, 'push', ['pipelines/p.yaml'], remote.env)).code, 0);
      }
      const before = {
        records: await remoteKeys(remote.store, 'records/'),
        trees: await remoteKeys(remote.store, 'trees/'),
        blobs: await remoteKeys(remote.store, 'blobs/'),
      };
      assert.equal(before.records.length, 4);
      // Blobs: shared.txt, n.txt for 1 and 2 (use.txt has the same bytes as n.txt).
      assert.equal(before.blobs.length, 3);

      const gc = async (...extra: string[]) => {
        const r = await a.tailor(['gc', '--remote', remote.url, '--keep-runs', '0', '--json', ...extra], remote.env);
        assert.equal(r.code, 0, r.stderr);
        return JSON.parse(r.stdout) as GcJson;
      };
      const young = await gc();
      assert.equal(young.records.removed, 0, 'the default grace period (1h) keeps fresh pushes');

      const dry = await gc('--grace', '0', '--dry-run');
      assert.deepEqual([dry.records.removed, dry.manifests.removed, dry.blobs.removed], [2, 2, 1]);
      assert.deepEqual(await remoteKeys(remote.store, 'records/'), before.records, 'a dry run removes nothing');
      assert.deepEqual(await remoteKeys(remote.store, 'blobs/'), before.blobs);

      const real = await gc('--grace', '0');
      assert.deepEqual([real.records.removed, real.manifests.removed, real.blobs.removed], [2, 2, 1]);
      assert.equal((await remoteKeys(remote.store, 'records/')).length, 2);
      assert.equal((await remoteKeys(remote.store, 'trees/')).length, 2);
      assert.equal((await remoteKeys(remote.store, 'blobs/')).length, 2, 'the shared blob stays');

      // The kept version still pulls; the collected one is a miss.
      const b = await Workspace.create('tailor-remote-');
      try {
        await b.write('pipelines/p.yaml', pipeline(2));
        assert.deepEqual((await transfer(b, 'pull', ['pipelines/p.yaml'], remote.env)).states, {
          make: 'pulled',
          use: 'pulled',
        });
        await b.write('pipelines/p.yaml', pipeline(1));
        assert.deepEqual((await transfer(b, 'pull', ['pipelines/p.yaml'], remote.env)).states, {
          make: 'not-on-remote',
          use: 'blocked',
        });
      } finally {
        await b.dispose();
      }
      const again = await gc('--grace', '0');
      assert.deepEqual([again.records.removed, again.manifests.removed, again.blobs.removed], [0, 0, 0]);
    } finally {
      await a.dispose();
      await remote.stop();
    }
  });
}

test('gc --remote: a bad --grace is a usage error', async () => {
  const ws = await Workspace.create('tailor-remote-');
  try {
    const r = await ws.tailor(['gc', '--remote', 'file:///tmp/none', '--grace', 'soon']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--grace expects a duration/);
  } finally {
    await ws.dispose();
  }
});
