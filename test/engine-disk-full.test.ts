/**
 * A full disk (issue 10, point 5): a real small tmpfs holds the cache (the test skips, saying
 * why, where it cannot be mounted), and /dev/full stands in for a log file on any Linux. The
 * stage fails with one line, its temp folder is gone at once, and the next run, with room again,
 * works without a word about the earlier failure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { Workspace } from './helpers/rig.js';
import { assertNoStack, mountTmpfs } from './helpers/hostile.js';

const BIG = `stages:
  big:
    cmd: "head -c \${params.bytes} /dev/zero > \${out}/big.bin"
    params: { bytes: 6000000 }
  after:
    cmd: "wc -c < \${needs.big}/big.bin > \${out}/n"
    needs: [big]
`;

test('ENOSPC while a stage writes: one line, its temp folder removed, the next run works', async (t) => {
  const fs = mountTmpfs(4 * 1024 * 1024);
  if ('skip' in fs) return t.skip(fs.skip);
  const ws = await Workspace.create();
  try {
    const cache = join(fs.dir, 'cache');
    await ws.write('pipelines/f.yaml', BIG);
    const r = await ws.run(['pipelines/f.yaml', '--cache', cache]);
    assert.equal(r.code, 1, r.result.stderr);
    assert.deepEqual(r.actions, { big: 'failed', after: 'skipped' });
    assertNoStack(r.result.stderr);
    assert.match(r.result.stderr, /big failed: command exited with code 1/);
    assert.deepEqual(await readdir(join(cache, 'tmp')), [], 'the half-written output is gone');

    const small = await ws.run(['pipelines/f.yaml', '--cache', cache, '--set', 'big.bytes=1000000']);
    assert.equal(small.code, 0, small.result.stderr);
    assert.deepEqual(small.actions, { big: 'ran', after: 'ran' });
  } finally {
    await ws.dispose();
    fs.unmount();
  }
});

test('a cache on a disk with no room left: the index cannot be written, and tailor says the disk is full', async (t) => {
  const fs = mountTmpfs(2 * 1024 * 1024);
  if ('skip' in fs) return t.skip(fs.skip);
  const ws = await Workspace.create();
  try {
    const cache = join(fs.dir, 'cache');
    await ws.write('pipelines/f.yaml', BIG);
    assert.equal((await ws.run(['pipelines/f.yaml', '--cache', cache, '--set', 'big.bytes=10'])).code, 0);
    // Fill what is left, as another program would.
    const free = statfsSync(fs.dir).bavail * statfsSync(fs.dir).bsize;
    await writeFile(join(fs.dir, 'filler'), Buffer.alloc(free)).catch(() => undefined);
    const r = await ws.run(['pipelines/f.yaml', '--cache', cache, '--set', 'big.bytes=20']);
    assert.ok(r.code === 1 || r.code === 2, `exit ${r.code}: ${r.result.stderr}`);
    assertNoStack(r.result.stderr);
    assert.match(r.result.stderr, /disk (holding the cache )?(is )?full|no space left/i);
    if (existsSync(join(cache, 'tmp'))) assert.deepEqual(await readdir(join(cache, 'tmp')), []);
    await rm(join(fs.dir, 'filler'));
    const again = await ws.run(['pipelines/f.yaml', '--cache', cache, '--set', 'big.bytes=20']);
    assert.equal(again.code, 0, again.result.stderr);
    assert.equal(again.actions.big, 'ran');
  } finally {
    await ws.dispose();
    fs.unmount();
  }
});

test('a stage log that cannot be written (ENOSPC from /dev/full) fails the stage with that line, no unhandled error', async (t) => {
  if (!existsSync('/dev/full')) return t.skip('no /dev/full on this system');
  const ws = await Workspace.create();
  try {
    await ws.write('pipelines/l.yaml', `stages:\n  chatty:\n    cmd: "seq 1 5000; echo ok > \${out}/o"\n`);
    // The first run of a fresh cache is run 1: its log file for `chatty` is a link to /dev/full.
    await mkdir(ws.path('cache/logs'), { recursive: true });
    await symlink('/dev/full', ws.path('cache/logs/1-chatty.log'));
    const r = await ws.run(['pipelines/l.yaml']);
    assert.equal(r.code, 1, r.result.stderr);
    assertNoStack(r.result.stderr);
    assert.match(r.result.stderr, /chatty failed: disk full: cannot write the stage log .*1-chatty\.log: ENOSPC/);
    assert.deepEqual(await readdir(ws.path('cache/tmp')), []);
    const again = await ws.run(['pipelines/l.yaml']);
    assert.equal(again.code, 0, again.result.stderr);
    assert.equal(again.actions.chatty, 'ran');
  } finally {
    await ws.dispose();
  }
});
