import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ContentStore } from '../src/cache/content-store.js';
import { FileHasher } from '../src/cache/file-hasher.js';
import { CacheIndex } from '../src/cache/index-db.js';
import { hostTag } from '../src/cache/process-info.js';

const SRC = fileURLToPath(new URL('../src/cache/', import.meta.url));
const HOUR_AGO = Date.now() / 1000 - 3600;
let root: string;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'tailor-store-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

function open(name: string): { index: CacheIndex; hasher: FileHasher; store: ContentStore; cacheDir: string } {
  const cacheDir = join(root, name);
  const index = CacheIndex.open(cacheDir);
  const hasher = new FileHasher(index.stats);
  return { index, hasher, store: new ContentStore(cacheDir, hasher), cacheDir };
}

/** Fill a stage output folder; `aged` dates the files an hour back so the stat cache keeps them. */
function fill(dir: string, files: Record<string, string>, aged = false): void {
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), content);
    if (aged) utimesSync(join(dir, rel), HOUR_AGO, HOUR_AGO);
  }
}

function objectCount(cacheDir: string): number {
  const objects = join(cacheDir, 'objects');
  return readdirSync(objects).reduce((n, shard) => n + readdirSync(join(objects, shard)).length, 0);
}

test('commit moves the tree to objects/<xx>/<hash>; the same content twice gives one object', async () => {
  const { index, store, cacheDir } = open('commit');
  try {
    const stateFile = join(cacheDir, 'state', 'pad', 'img.bin');
    mkdirSync(join(stateFile, '..'), { recursive: true });
    writeFileSync(stateFile, 'pixels');

    const tmp1 = await store.newTempDir('pad@224/x');
    assert.match(tmp1, new RegExp(`/tmp/${process.pid}-${hostTag()}-pad@224_x-[0-9a-f]+$`));
    fill(tmp1, { 'manifest.jsonl': '{"imageId":"1"}\n', 'images/1.jpg': 'jpeg' });
    linkSync(stateFile, join(tmp1, 'images', 'linked.bin')); // stages may hard-link from state/
    const c1 = await store.commit(tmp1);
    assert.equal(c1.files, 3);
    assert.equal(c1.bytes, 16 + 4 + 6);
    assert.equal(store.pathOf(c1.treeHash), join(cacheDir, 'objects', c1.treeHash.slice(0, 2), c1.treeHash));
    assert.ok(store.exists(c1.treeHash));
    assert.equal(readFileSync(join(store.pathOf(c1.treeHash), 'images', 'linked.bin'), 'utf8'), 'pixels');
    assert.equal(existsSync(tmp1), false);

    const tmp2 = await store.newTempDir('pad');
    fill(tmp2, { 'manifest.jsonl': '{"imageId":"1"}\n', 'images/1.jpg': 'jpeg', 'images/linked.bin': 'pixels' });
    const c2 = await store.commit(tmp2);
    assert.deepEqual(c2, c1, 'same content, same object (hard link or copy alike)');
    assert.equal(objectCount(cacheDir), 1);
    assert.deepEqual(readdirSync(join(cacheDir, 'tmp')), [], 'both temp folders are gone');
    assert.deepEqual(await store.listObjects(), [c1.treeHash]);
    await assert.rejects(store.commit(join(cacheDir, 'objects')), /not under/);
    assert.throws(() => store.pathOf('../../etc'), /not a tree hash/);
  } finally {
    index.close();
  }
});

test('objects/ never shows a partial tree while a commit is in progress', async () => {
  const { index, store, cacheDir } = open('atomic');
  try {
    const tmp = await store.newTempDir('big');
    const files: Record<string, string> = {};
    for (let i = 0; i < 3000; i++) files[`d${i % 10}/f${i}`] = `v${i}`;
    fill(tmp, files);
    const seen: number[] = [];
    const objects = join(cacheDir, 'objects');
    let polling = true;
    const poll = (): void => {
      for (const shard of readdirSync(objects)) {
        for (const name of readdirSync(join(objects, shard))) {
          const n = readdirSync(join(objects, shard, name), { recursive: true, withFileTypes: true }).filter((e) =>
            e.isFile(),
          ).length;
          seen.push(n);
        }
      }
      if (polling) setImmediate(poll);
    };
    poll();
    const c = await store.commit(tmp);
    polling = false;
    poll();
    assert.equal(c.files, 3000);
    assert.ok(seen.length > 0);
    assert.ok(
      seen.every((n) => n === 3000),
      `every observation of the object is complete: ${[...new Set(seen)].join(',')}`,
    );
  } finally {
    index.close();
  }
});

test('verify: ok through the stat cache, corrupt after a byte change or a deleted file, missing after removal', async () => {
  const { index, hasher, store, cacheDir } = open('verify');
  try {
    const tmp = await store.newTempDir('split');
    fill(tmp, { 'train.jsonl': 'a\n', 'sub/test.jsonl': 'b\n' }, true);
    const { treeHash } = await store.commit(tmp);
    hasher.flush();
    // Rows were carried to the final path: a new hasher verifies without reading anything.
    const fresh = new FileHasher(index.stats);
    const store2 = new ContentStore(cacheDir, fresh);
    assert.equal(await store2.verify(treeHash), 'ok');
    assert.equal(fresh.stats.filesRead, 0);
    assert.equal(fresh.stats.cacheHits, 2);
    assert.equal(index.stats.statEntriesUnder(join(cacheDir, 'tmp')).size, 0, 'no stat rows left under tmp/');

    const file = join(store.pathOf(treeHash), 'sub', 'test.jsonl');
    writeFileSync(file, 'B\n'); // same size, new mtime
    assert.equal(await store2.verify(treeHash), 'corrupt');
    writeFileSync(file, 'b\n');
    assert.equal(await store2.verify(treeHash), 'ok');
    rmSync(file);
    assert.equal(await store2.verify(treeHash), 'corrupt');

    // Committing the same content again replaces the corrupt object.
    const tmp2 = await store2.newTempDir('split');
    fill(tmp2, { 'train.jsonl': 'a\n', 'sub/test.jsonl': 'b\n' });
    assert.equal((await store2.commit(tmp2)).treeHash, treeHash);
    assert.equal(await store2.verify(treeHash), 'ok');

    await store2.remove(treeHash);
    assert.equal(store2.exists(treeHash), false);
    assert.equal(await store2.verify(treeHash), 'missing');
    await store2.remove(treeHash); // nothing to do
    fresh.flush();
    assert.equal(index.stats.statEntriesUnder(join(cacheDir, 'objects')).size, 0, 'rows of removed objects are gone');
  } finally {
    index.close();
  }
});

test('a process SIGKILLed mid-stage leaves only a temp folder, which the next cleanup removes', async () => {
  const { index, store, cacheDir } = open('killed');
  try {
    const script = `
      const { CacheIndex } = await import(${JSON.stringify(join(SRC, 'index-db.ts'))});
      const { FileHasher } = await import(${JSON.stringify(join(SRC, 'file-hasher.ts'))});
      const { ContentStore } = await import(${JSON.stringify(join(SRC, 'content-store.ts'))});
      const { writeFileSync } = await import('node:fs');
      const index = CacheIndex.open(${JSON.stringify(cacheDir)});
      const store = new ContentStore(${JSON.stringify(cacheDir)}, new FileHasher(index.stats));
      const tmp = await store.newTempDir('slow');
      writeFileSync(tmp + '/part', 'half');
      console.log('writing');
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('writing') && resolve());
      child.on('exit', (code) => reject(new Error(`child exited early: ${code}`)));
    });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    assert.equal(objectCount(cacheDir), 0, 'nothing registered in objects/');
    assert.equal(readdirSync(join(cacheDir, 'tmp')).length, 1);
    assert.equal(await store.cleanupTemp(), 1);
    assert.deepEqual(readdirSync(join(cacheDir, 'tmp')), []);
  } finally {
    index.close();
  }
});

test('cleanupTemp keeps live and own temp folders, removes dead-pid and day-old foreign ones', async () => {
  const { index, store, cacheDir } = open('cleanup');
  try {
    const deadPid = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).stdout.trim();
    const tmpRoot = join(cacheDir, 'tmp');
    const make = (name: string, ageHours = 0): void => {
      mkdirSync(join(tmpRoot, name));
      writeFileSync(join(tmpRoot, name, 'f'), 'x');
      const t = Date.now() / 1000 - ageHours * 3600;
      utimesSync(join(tmpRoot, name), t, t);
    };
    const own = await store.newTempDir('mine');
    make(`${deadPid}-${hostTag()}-train-head-ab12`);
    make(`${process.ppid}-${hostTag()}-alive-cd34`);
    make(`${deadPid}-otherhost-recent-ef56`);
    make(`${deadPid}-otherhost-old-0a0b`, 30);
    make('garbage-name', 30);
    assert.equal(await store.cleanupTemp(), 3);
    assert.deepEqual(
      readdirSync(tmpRoot).sort(),
      [own.split('/').pop(), `${deadPid}-otherhost-recent-ef56`, `${process.ppid}-${hostTag()}-alive-cd34`].sort(),
    );
  } finally {
    index.close();
  }
});
