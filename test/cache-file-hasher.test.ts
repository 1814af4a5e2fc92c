import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cpSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileHasher, hashTree } from '../src/cache/file-hasher.js';
import { hashBytes } from '../src/cache/hash.js';
import { CacheIndex } from '../src/cache/index-db.js';

let root: string;
let index: CacheIndex;
const HOUR_AGO = Date.now() / 1000 - 3600;

before(() => {
  root = mkdtempSync(join(tmpdir(), 'tailor-hasher-'));
  index = CacheIndex.open(join(root, 'cache'));
});
after(() => {
  index.close();
  rmSync(root, { recursive: true, force: true });
});

/** Write files (path → content) under a new folder and date them an hour back, out of the racy window. */
function makeTree(name: string, files: Record<string, string>): string {
  const dir = join(root, name);
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), content);
  }
  age(dir);
  return dir;
}

/** Set every file's mtime under `dir` to an hour ago. */
function age(dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) utimesSync(join(e.parentPath, e.name), HOUR_AGO, HOUR_AGO);
  }
}

async function hashOnce(path: string): Promise<{ hash: string; filesRead: number; cacheHits: number }> {
  const hasher = new FileHasher(index.stats);
  const h = await hasher.hashPath(path);
  hasher.flush();
  return { hash: h.hash, filesRead: hasher.stats.filesRead, cacheHits: hasher.stats.cacheHits };
}

test('the stat cache trusts size+mtime: restored mtime hides a byte change, a new mtime reveals it', async () => {
  const dir = makeTree('trust', { 'f.txt': 'AAAA' });
  const file = join(dir, 'f.txt');
  const first = await hashOnce(file);
  assert.equal(first.hash, hashBytes('AAAA'));
  assert.equal(first.filesRead, 1);

  writeFileSync(file, 'BBBB'); // same size ...
  utimesSync(file, HOUR_AGO, HOUR_AGO); // ... and the old mtime put back
  const trusted = await hashOnce(file);
  assert.equal(trusted.filesRead, 0, 'the file must not be read again');
  assert.equal(trusted.hash, hashBytes('AAAA'), 'documented trust: same dev/ino/size/mtime → cached hash');

  utimesSync(file, HOUR_AGO + 1, HOUR_AGO + 1);
  const changed = await hashOnce(file);
  assert.equal(changed.filesRead, 1);
  assert.equal(changed.hash, hashBytes('BBBB'));
});

test('a file modified within the racy window (or dated in the future) is not persisted', async () => {
  const file = join(root, 'fresh.txt');
  writeFileSync(file, 'x');
  // A fixed time ahead, so a slow machine cannot push the write out of the 100 ms window.
  utimesSync(file, Date.now() / 1000 + 5, Date.now() / 1000 + 5);
  const rowsBefore = index.stats.statRowCount();
  assert.equal((await hashOnce(file)).filesRead, 1);
  assert.equal(index.stats.statRowCount(), rowsBefore, 'no row for a file written within the racy window');
  writeFileSync(file, 'y'); // same size, possibly the same mtime tick
  assert.equal((await hashOnce(file)).hash, hashBytes('y'));
});

test('a folder hash is a Merkle hash: nested content and names matter, location does not', async () => {
  const dir = makeTree('merkle', { 'a/b/c.txt': 'c', 'a/d.txt': 'd', 'e.txt': 'e' });
  const h0 = await hashOnce(dir);
  assert.equal(h0.filesRead, 3);
  const again = await hashOnce(dir);
  assert.deepEqual(again, { hash: h0.hash, filesRead: 0, cacheHits: 3 });

  const copy = join(root, 'merkle-copy');
  cpSync(dir, copy, { recursive: true });
  assert.equal((await hashOnce(copy)).hash, h0.hash, 'same content elsewhere, same hash');

  writeFileSync(join(dir, 'a/b/c.txt'), 'C'); // same size: give it a new (old) mtime
  utimesSync(join(dir, 'a/b/c.txt'), HOUR_AGO + 10, HOUR_AGO + 10);
  const h1 = await hashOnce(dir);
  assert.notEqual(h1.hash, h0.hash, 'nested content change');
  writeFileSync(join(dir, 'a/b/c.txt'), 'c');
  utimesSync(join(dir, 'a/b/c.txt'), HOUR_AGO + 5, HOUR_AGO + 5);
  assert.equal((await hashOnce(dir)).hash, h0.hash, 'content restored, hash restored');

  renameSync(join(dir, 'a/b/c.txt'), join(dir, 'a/b/c2.txt'));
  assert.notEqual((await hashOnce(dir)).hash, h0.hash, 'nested rename');
  renameSync(join(dir, 'a/b/c2.txt'), join(dir, 'a/b/c.txt'));
  assert.equal((await hashOnce(dir)).hash, h0.hash);

  mkdirSync(join(dir, 'a/empty'));
  const withEmpty = (await hashOnce(dir)).hash;
  assert.notEqual(withEmpty, h0.hash, 'an empty folder is part of the tree');
  rmSync(join(dir, 'a/empty'), { recursive: true });

  symlinkSync('../e.txt', join(dir, 'a/link'));
  const withLink = (await hashOnce(dir)).hash;
  assert.notEqual(withLink, h0.hash, 'a symlink is part of the tree');
  unlinkSync(join(dir, 'a/link'));
  symlinkSync('../d.txt', join(dir, 'a/link'));
  assert.notEqual((await hashOnce(dir)).hash, withLink, 'symlinks hash by their target text');
  unlinkSync(join(dir, 'a/link'));
  assert.equal((await hashOnce(dir)).hash, h0.hash);

  // Same hash without any stat cache.
  assert.equal((await hashTree(dir)).hash, h0.hash);
});

test('kinds, counts and missing paths', async () => {
  const dir = makeTree('kinds', { 'x/one.bin': '1', 'two.bin': '22' });
  const hasher = new FileHasher(index.stats);
  assert.deepEqual(await hasher.hashPath(join(dir, 'nope')), { hash: '', kind: 'missing', files: 0, bytes: 0 });
  assert.deepEqual(await hasher.hashPath(join(dir, 'two.bin')), {
    hash: hashBytes('22'),
    kind: 'file',
    files: 1,
    bytes: 2,
  });
  const tree = await hasher.hashPath(dir);
  assert.equal(tree.kind, 'dir');
  assert.equal(tree.files, 2);
  assert.equal(tree.bytes, 3);
  await assert.rejects(hasher.hashTree(join(dir, 'two.bin')), /expected a folder/);
});

test('each path is hashed once per FileHasher; concurrent calls share one promise; fresh rehashes', async () => {
  const dir = makeTree('memo', { 'sub/a.txt': 'a', 'b.txt': 'b' });
  const hasher = new FileHasher(index.stats);
  const p1 = hasher.hashPath(dir);
  const p2 = hasher.hashPath(join(dir, '.'));
  assert.equal(p1, p2, 'same promise for the same (normalised) path');
  const first = await p1;
  const reads = hasher.stats.filesRead;
  const sub = await hasher.hashPath(join(dir, 'sub'));
  assert.equal(hasher.stats.filesRead, reads, 'the nested folder was memoized by the parent walk');
  assert.equal(sub.files, 1);

  writeFileSync(join(dir, 'b.txt'), 'B!');
  assert.equal((await hasher.hashPath(dir)).hash, first.hash, 'memoized within the invocation');
  assert.notEqual((await hasher.hashPath(dir, { fresh: true })).hash, first.hash, 'fresh sees the change');
});

test('a second FileHasher answers a 600-file folder from the stat cache without reading', async () => {
  const files: Record<string, string> = {};
  for (let i = 0; i < 600; i++) files[`d${i % 7}/f${i}.txt`] = `content ${i}`;
  const dir = makeTree('many', files);
  const first = await hashOnce(dir);
  assert.equal(first.filesRead, 600);
  const second = await hashOnce(dir);
  assert.equal(second.filesRead, 0);
  assert.equal(second.cacheHits, 600);
  assert.equal(second.hash, first.hash);

  // Rows of deleted files are pruned on the next walk.
  const rows = index.stats.statRowCount();
  const inD3 = Object.keys(files).filter((f) => f.startsWith('d3/')).length;
  rmSync(join(dir, 'd3'), { recursive: true });
  await hashOnce(dir);
  assert.equal(index.stats.statRowCount(), rows - inD3);
});

test('an unchanged folder is answered from its folder row; a change rebuilds only its chain of folders', async () => {
  const files: Record<string, string> = { 'top.txt': 't', 'a/x/x.txt': 'x' };
  for (let i = 0; i < 50; i++) files[`a/b/c/${i}.txt`] = `file ${i}`;
  const dir = makeTree('chain', files);
  const run = async () => {
    const hasher = new FileHasher(index.stats);
    const h = await hasher.hashPath(dir);
    hasher.flush();
    return { hash: h.hash, ...hasher.stats };
  };
  const first = await run();
  assert.equal(first.dirsRebuilt, 5);
  const second = await run();
  assert.deepEqual([second.hash, second.dirsRebuilt, second.filesRead, second.cacheHits], [first.hash, 0, 0, 52]);

  writeFileSync(join(dir, 'a/b/c/7.txt'), 'changed');
  utimesSync(join(dir, 'a/b/c/7.txt'), HOUR_AGO, HOUR_AGO);
  const third = await run();
  assert.notEqual(third.hash, first.hash);
  assert.deepEqual(
    [third.dirsRebuilt, third.filesRead, third.cacheHits],
    [4, 1, 51],
    'c, b, a and the root; a/x untouched',
  );

  // A file written just now keeps its folder and the folders above it out of the folder cache.
  writeFileSync(join(dir, 'a/x/new.txt'), 'fresh');
  utimesSync(join(dir, 'a/x/new.txt'), Date.now() / 1000 + 5, Date.now() / 1000 + 5); // racy, however slow the machine
  await run();
  const rows = index.stats.dirEntriesUnder(dir);
  for (const d of ['a/b/c', 'a/b']) assert.ok(rows.has(join(dir, d)), `${d} keeps its row`);
  for (const d of ['a/x', 'a', '.']) {
    const now = (await hashTree(join(dir, d))).hash;
    assert.notEqual(
      rows.get(join(dir, d))?.hash,
      now,
      `${d} gets no row for its new state while it holds a fresh file`,
    );
  }
  assert.equal((await run()).dirsRebuilt, 3);
});
