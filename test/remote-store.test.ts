/**
 * The two RemoteStore backends against the same checks: the S3 API (on a real s3rver on
 * 127.0.0.1) and a shared folder. Put from bytes, a file and a stream (multipart above 8 MB),
 * head, ranged reads, paged listing, delete, and what interrupted writes leave.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { randomBytes } from 'node:crypto';
import { FolderStore } from '../src/remote/folder-store.js';
import { S3Store } from '../src/remote/s3-store.js';
import type { RemoteStore } from '../src/remote/remote-store.js';
import { parseRemoteUrl } from '../src/remote/remote-url.js';
import { startS3Server } from './helpers/s3-server.js';

async function conformance(store: RemoteStore, scratch: string): Promise<void> {
  assert.equal(await store.head('a/missing'), undefined);
  assert.equal(await store.read('a/missing'), undefined);
  assert.equal(await store.openRange('a/missing', 0), undefined);

  await store.put('a/one', { bytes: Buffer.from('hello world') });
  assert.equal((await store.head('a/one'))?.size, 11);
  assert.equal((await store.read('a/one'))?.toString(), 'hello world');
  const range = await store.openRange('a/one', 6);
  assert.equal(range?.from, 6);
  assert.equal(await text(range!.body), 'world');
  const end = await store.openRange('a/one', 11);
  assert.equal(await text(end!.body), '', 'a range at the end reads nothing');

  // A file above the part size goes as a multipart upload (S3) and comes back byte for byte.
  const big = randomBytes(9 * 1024 * 1024 + 123);
  const file = join(scratch, 'big.bin');
  await writeFile(file, big);
  let counted = 0;
  await store.put('a/big', { file }, { onBytes: (n) => (counted += n) });
  assert.equal(counted, big.length, 'progress counts every byte once');
  assert.equal((await store.head('a/big'))?.size, big.length);
  assert.ok((await store.read('a/big'))?.equals(big));
  const tail = await store.openRange('a/big', big.length - 1000);
  const got: Buffer[] = [];
  for await (const c of tail!.body) got.push(c as Buffer);
  assert.ok(Buffer.concat(got).equals(big.subarray(big.length - 1000)));

  await store.put('a/streamed', { stream: () => Readable.from([Buffer.from('str'), Buffer.from('eam')]) });
  assert.equal((await store.read('a/streamed'))?.toString(), 'stream');

  for (let i = 0; i < 5; i++) await store.put(`b/${i}`, { bytes: Buffer.from(String(i)) });
  const keys: string[] = [];
  for await (const o of store.list('b/')) keys.push(o.key);
  assert.deepEqual(keys.sort(), ['b/0', 'b/1', 'b/2', 'b/3', 'b/4']);
  const all: string[] = [];
  for await (const o of store.list('')) all.push(o.key);
  assert.equal(all.length, 8);
  const mtime = (await store.head('b/0'))!.modifiedMs;
  assert.ok(Math.abs(Date.now() - mtime) < 60_000, 'modification time is now');

  await store.delete(['b/0', 'b/1', 'b/nothing']);
  const left: string[] = [];
  for await (const o of store.list('b/')) left.push(o.key);
  assert.deepEqual(left.sort(), ['b/2', 'b/3', 'b/4']);
}

test('S3 store on s3rver: put/multipart/head/range/paged list/delete', async () => {
  const s3 = await startS3Server(['tailor']);
  const scratch = await mkdtemp(join(tmpdir(), 'tailor-remote-'));
  // A page size of 2 makes every listing above go through continuation tokens.
  const store = new S3Store('s3://tailor/pre', 'tailor', 'pre/', { ...process.env, ...s3.env }, 2);
  try {
    await conformance(store, scratch);
    assert.ok(store.counters.requests > 10);
    assert.equal(await store.sweepIncomplete(0), 0, 's3rver has no multipart listing: nothing to sweep');
    const other = new S3Store('s3://tailor', 'tailor', '', { ...process.env, ...s3.env });
    assert.ok(await other.head('pre/a/one'), 'the prefix is a real key prefix in the bucket');
    other.close();
  } finally {
    store.close();
    await rm(scratch, { recursive: true, force: true });
    await s3.stop();
  }
});

test('S3 store: a missing bucket is an error, not a miss', async () => {
  const s3 = await startS3Server(['tailor']);
  const store = new S3Store('s3://nope-bucket', 'nope-bucket', '', { ...process.env, ...s3.env });
  try {
    await assert.rejects(store.read('x'), /NoSuchBucket/);
  } finally {
    store.close();
    await s3.stop();
  }
});

test('folder store: same behaviour, atomic writes, temp files swept', async () => {
  const root = await mkdtemp(join(tmpdir(), 'tailor-folder-remote-'));
  const scratch = await mkdtemp(join(tmpdir(), 'tailor-remote-'));
  const store = new FolderStore(`file://${root}`, root);
  try {
    await conformance(store, scratch);
    // What a killed writer leaves: a temp file beside its target, skipped by listings.
    await writeFile(join(root, 'b', '.tmp-5-host-1-ab'), 'half');
    const keys: string[] = [];
    for await (const o of store.list('b/')) keys.push(o.key);
    assert.ok(!keys.some((k) => k.includes('.tmp-')));
    assert.equal(await store.sweepIncomplete(60_000), 0, 'a fresh temp file may belong to a live writer');
    assert.equal(await store.sweepIncomplete(0), 1);
    assert.ok(!(await readdir(join(root, 'b'))).some((n) => n.startsWith('.tmp-')));
    await assert.rejects(store.head('../escape'), /bad remote key/);
  } finally {
    await rm(root, { recursive: true, force: true });
    await rm(scratch, { recursive: true, force: true });
  }
});

test('remote URLs', () => {
  assert.deepEqual(parseRemoteUrl('s3://my-bucket/team/cache/'), {
    ok: true,
    value: { kind: 's3', url: 's3://my-bucket/team/cache/', bucket: 'my-bucket', prefix: 'team/cache/' },
  });
  assert.deepEqual(parseRemoteUrl('s3://my-bucket'), {
    ok: true,
    value: { kind: 's3', url: 's3://my-bucket', bucket: 'my-bucket', prefix: '' },
  });
  assert.deepEqual(parseRemoteUrl('file:///mnt/nfs/tailor'), {
    ok: true,
    value: { kind: 'file', url: 'file:///mnt/nfs/tailor', root: '/mnt/nfs/tailor' },
  });
  for (const bad of ['http://x', 's3://A', 's3://ok-bucket/../x', '/plain/path', 'file://host/x']) {
    const r = parseRemoteUrl(bad);
    assert.equal(r.ok, false, bad);
  }
});
