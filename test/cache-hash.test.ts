import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createHashStream,
  HASH_ALGO,
  HASH_HEX_LENGTH,
  hashBytes,
  hashFile,
  initHash,
  SMALL_FILE_BYTES,
} from '../src/cache/hash.js';

test('hashBytes gives the standard digest for strings and bytes', async () => {
  await initHash();
  await initHash(); // idempotent
  assert.equal(HASH_ALGO, 'sha256');
  assert.equal(hashBytes('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.equal(hashBytes(new TextEncoder().encode('abc')), hashBytes('abc'));
  assert.equal(hashBytes('').length, HASH_HEX_LENGTH);
});

test('a hash stream over chunks equals the one-shot hash, and streams do not share state', () => {
  const data = randomBytes(100_000);
  const a = createHashStream();
  const b = createHashStream();
  for (let i = 0; i < data.length; i += 7_777) {
    a.update(data.subarray(i, i + 7_777));
    b.update('x');
  }
  assert.equal(a.digest(), hashBytes(data));
  assert.equal(b.digest(), hashBytes('x'.repeat(Math.ceil(100_000 / 7_777))));
});

test('hashFile streams files larger than one chunk and handles empty and small files', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tailor-hash-'));
  try {
    const big = randomBytes(SMALL_FILE_BYTES * 2 + 123);
    const small = randomBytes(1000);
    await writeFile(join(dir, 'big'), big);
    await writeFile(join(dir, 'small'), small);
    await writeFile(join(dir, 'empty'), '');
    assert.equal(await hashFile(join(dir, 'big')), createHash('sha256').update(big).digest('hex'));
    assert.equal(await hashFile(join(dir, 'small')), hashBytes(small));
    assert.equal(await hashFile(join(dir, 'empty')), hashBytes(''));
    await assert.rejects(hashFile(join(dir, 'nope')), { code: 'ENOENT' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
