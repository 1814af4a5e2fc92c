/**
 * `tailor verify --remote`: the CI reproduction of issue 14. In a fresh temporary cache, stages
 * whose key the remote has are restored from it (hash-checked) instead of recomputed, stages it
 * lacks or holds damaged are computed, and every stage is compared with the lock file either way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashBytes } from '../src/cache/hash.js';
import { blobKey } from '../src/remote/layout.js';
import { Workspace } from './helpers/rig.js';
import { startRemote } from './helpers/remote-rig.js';

const PIPELINE = `
stages:
  make:
    cmd: "echo make >> runs.log && echo part 1 > \${out}/p1.txt && echo 7 > \${out}/n.txt"
    verify: { deterministic: true }
  use:
    cmd: "echo use >> runs.log && cat \${needs.make}/n.txt \${needs.make}/p1.txt > \${out}/use.txt"
    needs: [make]
    verify: { deterministic: true }
`;

/** A hung remote must fail the test, not stall the suite. */
const LIMIT = { timeout: 240_000 };

interface VerifyJson {
  ok: boolean;
  restored?: string[];
  checks: Array<{ stage: string; check: string; verdict: string }>;
}

test(
  'file: verify --remote restores what was pushed, computes the rest, compares all with the lock file',
  LIMIT,
  async () => {
    const remote = await startRemote('file');
    const a = await Workspace.create('tailor-remote-verify-');
    const b = await Workspace.create('tailor-remote-verify-');
    try {
      await a.write('pipelines/p.yaml', PIPELINE);
      const run = await a.run(['pipelines/p.yaml', '--push'], remote.env);
      assert.equal(run.code, 0, run.result.stderr);
      // B is a CI checkout: the pipeline and its committed lock file, an empty cache.
      await b.write('pipelines/p.yaml', PIPELINE);
      await b.write('pipelines/p.lock.json', await a.read('pipelines/p.lock.json'));

      const all = await b.tailor(['verify', 'pipelines/p.yaml', '--json', '--remote', remote.url]);
      assert.equal(all.code, 0, all.stderr + all.stdout);
      const body = JSON.parse(all.stdout) as VerifyJson;
      assert.equal(body.ok, true);
      assert.deepEqual(body.restored, ['make', 'use']);
      assert.ok(body.checks.some((c) => c.stage === 'use' && c.check === 'output' && c.verdict === 'ok'));
      assert.deepEqual(await b.runCounts(), {}, 'nothing recomputed');

      await remote.store.put(blobKey(hashBytes('part 1\n')), { bytes: Buffer.from('part X\n') });
      const text = await b.tailor(['verify', 'pipelines/p.yaml'], remote.env);
      assert.equal(text.code, 0, text.stderr + text.stdout);
      assert.match(text.stdout, /restored from file:.*\(checked as pulled, not recomputed\): use\n/);
      assert.match(text.stderr, /make: remote cache miss/);
      assert.deepEqual(await b.runCounts(), { make: 1 }, 'the damaged stage was computed, the other restored');
    } finally {
      await a.dispose();
      await b.dispose();
      await remote.stop();
    }
  },
);
