/**
 * Tree manifests and remote records: a manifest recomputes exactly the tree hash file-hasher gives
 * the folder it describes (nested and empty folders, symlinks, odd names, duplicates), and what a
 * remote hands back is rejected when it is cut short, edited, moved or tries to climb out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileHasher } from '../src/cache/file-hasher.js';
import { buildManifest, parseManifest, serializeManifest, treeHashOf } from '../src/remote/tree-manifest.js';
import { parseRecord, serializeRecord, type RemoteRecord } from '../src/remote/remote-record.js';
import { stageKey } from '../src/run/stage-key.js';
import { blobKey, hashOfKey, manifestKey, recordKey, BLOBS, RECORDS, TREES } from '../src/remote/layout.js';

async function oddTree(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tailor-manifest-'));
  await mkdir(join(dir, 'sub', 'deeper'), { recursive: true });
  await mkdir(join(dir, 'empty'));
  await writeFile(join(dir, 'a.txt'), 'alpha\n');
  await writeFile(join(dir, 'sub', 'copy of a.txt'), 'alpha\n');
  await writeFile(join(dir, 'sub', 'deeper', 'émoji 🙂 "quoted".bin'), Buffer.from([0, 1, 2, 255]));
  await writeFile(join(dir, 'B-upper'), '');
  await writeFile(join(dir, 'run.sh'), '#!/bin/sh\n');
  await chmod(join(dir, 'run.sh'), 0o755);
  await symlink('a.txt', join(dir, 'link'));
  return dir;
}

test('a manifest hashes to the tree hash file-hasher computes', async () => {
  const dir = await oddTree();
  try {
    const hasher = new FileHasher(undefined);
    const tree = await hasher.hashTree(dir);
    const m = await buildManifest(dir, hasher);
    assert.equal(m.treeHash, tree.hash);
    assert.equal(m.files, tree.files);
    assert.equal(m.bytes, tree.bytes);
    assert.ok(
      m.entries.some((e) => e.kind === 'dir' && e.path === 'empty'),
      'empty folders are listed',
    );
    assert.ok(m.entries.some((e) => e.kind === 'link' && e.target === 'a.txt'));
    assert.ok(m.entries.some((e) => e.kind === 'file' && e.path === 'run.sh' && e.exec));
    const parsed = parseManifest(serializeManifest(m), tree.hash);
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
    assert.deepEqual(parsed.value, m);
    assert.equal(serializeManifest(m).toString(), serializeManifest(parsed.value).toString(), 'deterministic bytes');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('manifests that are cut, edited, misnamed or escape the folder are rejected', async () => {
  const dir = await oddTree();
  try {
    const m = await buildManifest(dir, new FileHasher(undefined));
    const bytes = serializeManifest(m);
    const reject = (b: Buffer | string, hash = m.treeHash) => {
      const r = parseManifest(Buffer.from(b), hash);
      assert.equal(r.ok, false, `accepted: ${b.toString().slice(0, 80)}`);
    };
    reject(bytes.subarray(0, bytes.length - 10));
    reject(bytes, 'f'.repeat(64));
    const raw = JSON.parse(bytes.toString()) as { entries: unknown[][] };
    const edit = (f: (e: unknown[][]) => void) => {
      const copy = structuredClone(raw);
      f(copy.entries);
      return JSON.stringify(copy);
    };
    reject(edit((e) => (e.find((x) => x[0] === 'f')![2] = 'a'.repeat(64))));
    reject(edit((e) => e.push(['f', '../../etc/passwd', 'a'.repeat(64), 1, 0])));
    reject(edit((e) => e.push(['l', 'sub/../x', 'y'])));
    reject(edit((e) => e.push(['d', '/abs'])));
    reject(edit((e) => e.unshift(['f', 'nowhere/x', 'a'.repeat(64), 1, 0])));
    reject(edit((e) => e.push(e[0]!)));
    // The hash rule itself: entries in another order give the same tree (sorted per folder).
    assert.equal(treeHashOf(m.entries), m.treeHash);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a record must hash to the key it is stored under', () => {
  const ingredients = { api: 1, kind: 'cmd', definition: 'echo', params: { n: 1 }, seed: 0, needs: {}, deps: {} };
  const key = stageKey(ingredients as never);
  const rec: RemoteRecord = {
    stageKey: key,
    treeHash: 'a'.repeat(64),
    contentHash: 'b'.repeat(64),
    pipeline: 'p',
    stage: 's',
    ingredients,
    metrics: { n: 1 },
    createdAt: 1,
    seconds: 2,
    files: 3,
    bytes: 4,
    pushedAt: 5,
    pushedFrom: 'host',
  };
  const bytes = serializeRecord(rec);
  const ok = parseRecord(bytes, key);
  assert.ok(ok.ok);
  assert.deepEqual(ok.value, rec);
  assert.equal(parseRecord(bytes, 'c'.repeat(64)).ok, false, 'moved to another key');
  assert.equal(parseRecord(bytes.subarray(0, 50), key).ok, false, 'cut short');
  const edited = JSON.parse(bytes.toString()) as { ingredients: { params: { n: number } } };
  edited.ingredients.params.n = 2;
  assert.equal(parseRecord(Buffer.from(JSON.stringify(edited)), key).ok, false, 'ingredients edited');
  const badTree = { ...JSON.parse(bytes.toString()), treeHash: '../x' } as unknown;
  assert.equal(parseRecord(Buffer.from(JSON.stringify(badTree)), key).ok, false, 'not a hash');
});

test('layout keys round-trip and reject strangers', () => {
  const h = '0123456789abcdef'.repeat(4);
  assert.equal(hashOfKey(blobKey(h), BLOBS), h);
  assert.equal(hashOfKey(manifestKey(h), TREES), h);
  assert.equal(hashOfKey(recordKey(h), RECORDS), h);
  assert.equal(hashOfKey(`${BLOBS}01/${h}.json`, BLOBS), undefined);
  assert.equal(hashOfKey(`${TREES}ff/${h}.json`, TREES), undefined, 'wrong shard');
  assert.equal(hashOfKey(`${TREES}01/.tmp-${h}.json-x`, TREES), undefined);
  assert.throws(() => blobKey('../../x'));
});
