/**
 * Names and paths from data: stage names that would make paths outside their folder are refused
 * with positions; pipelines are identified by their path from the working folder, so two files
 * with one base name never share "latest" rows; gc keeps what any known lock file names.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPipeline } from '../src/pipeline/load.ts';
import { CacheIndex } from '../src/cache/index-db.ts';
import { childPath, isInside } from '../src/cache/safe-path.ts';
import { Workspace } from './helpers/rig.js';

function errors(yaml: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'tailor-names-'));
  const file = join(dir, 'p.yaml');
  writeFileSync(file, yaml);
  const r = loadPipeline(file, { workdir: dir, cacheDir: false });
  return r.ok ? [] : r.error.map((d) => `${d.pos?.line}:${d.pos?.col} ${d.message}`);
}

test('stage names that are not one safe path component are refused at their position', () => {
  for (const name of [
    '.',
    '..',
    '...',
    '.hidden',
    '-rf',
    'a/b',
    '../x',
    'a\\b',
    'tab\there',
    'nul\u0000',
    'x'.repeat(101),
    'é',
  ]) {
    const found = errors(`stages:\n  ${JSON.stringify(name)}:\n    cmd: "true"\n`);
    assert.equal(found.length, 1, `${JSON.stringify(name)}: ${found.join('; ')}`);
    assert.match(found[0] ?? '', /^2:3 bad stage name/, JSON.stringify(name));
  }
  assert.deepEqual(errors('stages:\n  ok_1.b-c:\n    cmd: "true"\n  _x:\n    cmd: "true"\n'), []);
});

test('foreach members get safe names whatever the items are; an over-long one is refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tailor-members-'));
  const file = join(dir, 'p.yaml');
  writeFileSync(file, 'stages:\n  g:\n    foreach: ["..", "a/../../b", "$(x)", "\\u0001"]\n    cmd: "echo ${item}"\n');
  const r = loadPipeline(file, { workdir: dir, cacheDir: false });
  assert.ok(r.ok);
  const names = r.value.stages.map((s) => s.name);
  assert.deepEqual(names, ['g@..', 'g@a_.._.._b', 'g@__x_', 'g@_']);
  for (const n of names) assert.ok(isInside(join(dir, 'state'), childPath(join(dir, 'state'), n)), n);
  const long = errors(`stages:\n  g:\n    foreach: [${JSON.stringify('y'.repeat(250))}]\n    cmd: "true"\n`);
  assert.match(long[0] ?? '', /^2:3 stage name "g@y+" is not a safe name/);
});

test('childPath refuses to leave its folder', () => {
  assert.throws(() => childPath('/c/state', '..'), /would leave/);
  assert.throws(() => childPath('/c/state', '.'), /would leave/);
  assert.throws(() => childPath('/c/state', '../index.sqlite'), /would leave/);
  assert.equal(childPath('/c/state', '/etc'), '/c/state/etc', 'joined, never taken as absolute');
  assert.equal(childPath('/c/state', 'g@..'), '/c/state/g@..');
});

test('rows of an old cache recorded under a bare name move to the first pipeline path that uses them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tailor-legacy-'));
  const index = CacheIndex.open(dir);
  try {
    const run = index.runs.beginRun({ pipeline: 'train', argv: ['run'], host: 'h', pid: 1 });
    index.outputs.putOutput({
      stageKey: 'k',
      treeHash: 'a'.repeat(64),
      pipeline: 'train',
      stage: 'fit',
      ingredients: {},
      metrics: {},
      createdAt: 1,
      seconds: 1,
    });
    index.outputs.setLatest('train', 'fit', 'k');
    index.runs.endRun(run, 'ok');
    assert.equal(index.outputs.getLatest('pipelines/one/train.yaml', 'fit')?.stageKey, 'k');
    assert.equal(index.runs.listRuns({ pipeline: 'pipelines/one/train.yaml' }).length, 1);
    assert.equal(index.outputs.getLatest('pipelines/two/train.yaml', 'fit'), undefined, 'taken by the first only');
    assert.equal(index.outputs.getLatest('train', 'fit'), undefined, 'no rows left under the bare name');
  } finally {
    index.close();
  }
});

const TRAIN = (word: string) => `stages:
  fit:
    cmd: "echo ${word} >> runs.log && echo ${word} > \${out}/w"
`;

test('pipelines/one/train.yaml and pipelines/two/train.yaml keep their own latest rows; gc evicts neither', async () => {
  const ws = await Workspace.create();
  try {
    await ws.write('pipelines/one/train.yaml', TRAIN('one'));
    await ws.write('pipelines/two/train.yaml', TRAIN('two'));
    assert.equal((await ws.run(['pipelines/one/train.yaml'])).code, 0);
    assert.equal((await ws.run(['pipelines/two/train.yaml'])).code, 0);
    const gc = await ws.tailor(['gc', '--keep-runs', '0']);
    assert.equal(gc.code, 0, gc.stderr);
    for (const p of ['pipelines/one/train.yaml', 'pipelines/two/train.yaml']) {
      const status = JSON.parse((await ws.tailor(['status', p, '--json'])).stdout) as {
        stages: Array<{ state: string }>;
      };
      assert.deepEqual(
        status.stages.map((s) => s.state),
        ['fresh'],
        p,
      );
    }
    await ws.clearRuns();
    const again = await ws.run(['pipelines/one/train.yaml']);
    assert.deepEqual(again.actions, { fit: 'cached' });
    assert.deepEqual(await ws.runCounts(), {});
  } finally {
    await ws.dispose();
  }
});

test('gc keeps outputs named by a lock file in a subfolder of pipelines/', async () => {
  const ws = await Workspace.create();
  try {
    await ws.write(
      'pipelines/sub/deep/p.yaml',
      'stages:\n  s:\n    cmd: "echo ${params.n} > ${out}/n"\n    params: { n: 1 }\n',
    );
    assert.equal((await ws.run(['pipelines/sub/deep/p.yaml'])).code, 0);
    const locked = JSON.parse(await ws.read('pipelines/sub/deep/p.lock.json')) as {
      stages: Record<string, { output: string }>;
    };
    const output = locked.stages.s?.output ?? '';
    // A --set variant becomes the latest output; only the lock file still names the first one.
    assert.equal((await ws.run(['pipelines/sub/deep/p.yaml', '--set', 's.n=2'])).code, 0);
    const gc = await ws.tailor(['gc', '--keep-runs', '0', '--json']);
    assert.equal(gc.code, 0, gc.stderr);
    assert.ok(!(JSON.parse(gc.stdout) as { removed: string[] }).removed.includes(output));
    assert.ok(ws.exists(join('cache', 'objects', output.slice(0, 2), output)));
  } finally {
    await ws.dispose();
  }
});
