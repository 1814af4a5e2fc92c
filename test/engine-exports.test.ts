/**
 * Exports and what `status` and `show` say about them (issue 10, point 9): a deleted export is
 * "will be restored" and is restored; an export a person edited is kept with a notice, and
 * replaced with --overwrite-exports; an object deleted from the cache is reported as such.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { Workspace } from './helpers/rig.js';

const PIPELINE = `stages:
  make:
    cmd: "echo \${params.v} > \${out}/result.txt"
    params: { v: 1 }
    export: { result.txt: outputs/result.txt }
`;

test('a deleted export: status says it will be restored, run restores it', async () => {
  const ws = await Workspace.create();
  try {
    await ws.write('pipelines/e.yaml', PIPELINE);
    assert.equal((await ws.run(['pipelines/e.yaml'])).code, 0);
    assert.equal(await ws.read('outputs/result.txt'), '1\n');
    await rm(ws.path('outputs/result.txt'));
    const status = await ws.tailor(['status', 'pipelines/e.yaml']);
    assert.equal(status.code, 0);
    assert.match(
      status.stdout,
      /make\s+fresh\n\s+- export outputs\/result\.txt is missing: `tailor run` will restore it/,
    );
    const json = JSON.parse((await ws.tailor(['status', 'pipelines/e.yaml', '--json'])).stdout) as {
      stages: Array<{ state: string; reasons: string[] }>;
    };
    assert.equal(json.stages[0]!.state, 'fresh');
    assert.match(json.stages[0]!.reasons[0]!, /will restore it/);
    const r = await ws.run(['pipelines/e.yaml']);
    assert.equal(r.actions.make, 'cached');
    assert.equal(await ws.read('outputs/result.txt'), '1\n');
    assert.match((await ws.tailor(['status', 'pipelines/e.yaml'])).stdout, /everything is up to date/);
  } finally {
    await ws.dispose();
  }
});

test('an edited export is kept with a word, also after the output changes; --overwrite-exports replaces it', async () => {
  const ws = await Workspace.create();
  try {
    await ws.write('pipelines/e.yaml', PIPELINE);
    assert.equal((await ws.run(['pipelines/e.yaml'])).code, 0);
    await writeFile(ws.path('outputs/result.txt'), 'my own numbers\n');
    const status = await ws.tailor(['status', 'pipelines/e.yaml']);
    assert.match(status.stdout, /export outputs\/result\.txt was changed since tailor wrote it: `tailor run` keeps it/);
    const kept = await ws.run(['pipelines/e.yaml', '--set', 'make.v=2']);
    assert.equal(kept.code, 0, kept.result.stderr);
    assert.match(
      kept.result.stderr,
      /kept outputs\/result\.txt: it was changed since tailor wrote it \(delete it, or run with --overwrite-exports\)/,
    );
    assert.equal(await ws.read('outputs/result.txt'), 'my own numbers\n');
    const forced = await ws.run(['pipelines/e.yaml', '--set', 'make.v=2', '--overwrite-exports']);
    assert.equal(forced.code, 0);
    assert.equal(await ws.read('outputs/result.txt'), '2\n');
    // Not edited since: an output change rewrites it without a word.
    const next = await ws.run(['pipelines/e.yaml', '--set', 'make.v=3']);
    assert.doesNotMatch(next.result.stderr, /kept|replacing/);
    assert.equal(await ws.read('outputs/result.txt'), '3\n');
  } finally {
    await ws.dispose();
  }
});

test('a file tailor never wrote at an export target is replaced, saying so', async () => {
  const ws = await Workspace.create();
  try {
    await ws.write('pipelines/e.yaml', PIPELINE);
    await ws.write('outputs/result.txt', 'was here before\n');
    const r = await ws.run(['pipelines/e.yaml']);
    assert.equal(r.code, 0);
    assert.match(r.result.stderr, /replacing outputs\/result\.txt, which tailor had not written/);
    assert.equal(await ws.read('outputs/result.txt'), '1\n');
  } finally {
    await ws.dispose();
  }
});

test('show after the object was deleted says it is missing, not "no output yet"', async () => {
  const ws = await Workspace.create();
  try {
    await ws.write('pipelines/e.yaml', PIPELINE);
    assert.equal((await ws.run(['pipelines/e.yaml'])).code, 0);
    const { out } = JSON.parse((await ws.tailor(['show', 'pipelines/e.yaml', 'make', '--json'])).stdout) as {
      out: string;
    };
    await rm(out, { recursive: true, force: true });
    const show = await ws.tailor(['show', 'pipelines/e.yaml', 'make']);
    assert.equal(show.code, 1);
    assert.match(show.stderr, /the output of make \(\w{12}\) is missing from the cache \(deleted\?\)/);
    assert.doesNotMatch(show.stderr, /no output yet/);
    assert.match(
      (await ws.tailor(['status', 'pipelines/e.yaml'])).stdout,
      /make\s+stale\n\s+- output missing from the cache/,
    );
  } finally {
    await ws.dispose();
  }
});
