/**
 * fetch against a real HTTP server on 127.0.0.1 with injected faults: every image ends stored and
 * decodable or listed with its reason; retries happen exactly where they should (counted server
 * side); reruns reuse the state index; new URLs alone are fetched.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { readJsonlAll } from '../src/formats/jsonl.js';
import type { ManifestEntry } from '../src/formats/manifest.js';
import { runStage } from './helpers/stage-harness.js';
import { startFaultServer, type FaultServer } from './fixtures/data/fault-server.js';
import { distinctJpegs, solidImage, writeImFile } from './fixtures/data/images.js';

const FETCH = 'stages/fetch.ts';
/** Small limits so faults show quickly: 3 attempts per transient failure, a timeout far below /slow/3000. */
const FAST = {
  timeout_ms: 1500, // over what a loaded machine takes to answer, half of /slow/3000
  retries: 2,
  backoff_ms: 5,
  max_backoff_ms: 20,
  max_bytes: 30000,
  max_redirects: 3,
  concurrency: 6,
  max_failure_share: 1,
};

/** path on the server -> expected outcome (`ok` or a failure reason) and requests made. */
const CASES: Record<string, { expect: string; requests: number }> = {
  '/img/0.jpg': { expect: 'ok', requests: 1 },
  '/img/1.jpg': { expect: 'ok', requests: 1 },
  '/chunked/2.jpg': { expect: 'ok', requests: 1 },
  '/redirect/3.jpg': { expect: 'ok', requests: 1 },
  '/flaky/1/4.jpg': { expect: 'ok', requests: 2 },
  '/status/404/a.jpg': { expect: 'http 404', requests: 1 },
  '/status/410/b.jpg': { expect: 'http 410', requests: 1 },
  '/status/403/c.jpg': { expect: 'http 403', requests: 1 },
  '/status/503/d.jpg': { expect: 'http 503', requests: 3 },
  '/slow/3000/5.jpg': { expect: 'timeout', requests: 3 },
  '/reset/e.jpg': { expect: 'connection reset', requests: 3 },
  '/cut/1.jpg': { expect: 'truncated body', requests: 3 },
  '/html/f.jpg': { expect: 'not an image', requests: 1 },
  '/img/big.jpg': { expect: 'too large', requests: 1 },
  '/chunked/big.jpg': { expect: 'too large', requests: 1 },
  '/img/truncated.jpg': { expect: 'truncated image', requests: 1 },
  '/img/tiny.jpg': { expect: 'too small: 1x1', requests: 1 },
};

let server: FaultServer;
let dir: string;
let images: Map<string, Buffer>;

before(async () => {
  images = await distinctJpegs(8);
  // A noisy 200x200 JPEG is well over the 30,000-byte cap.
  const noise = Buffer.alloc(200 * 200 * 3);
  for (let i = 0; i < noise.length; i++) noise[i] = (i * 2654435761) >>> 24;
  images.set(
    'big.jpg',
    await sharp(noise, { raw: { width: 200, height: 200, channels: 3 } })
      .jpeg({ quality: 95 })
      .toBuffer(),
  );
  const whole = images.get('0.jpg') as Buffer;
  images.set('truncated.jpg', whole.subarray(0, Math.floor(whole.length * 0.6)));
  images.set('tiny.jpg', await solidImage(1, 1, [200, 200, 200]));
  server = await startFaultServer({ images });
  dir = await mkdtemp(join(tmpdir(), 'tailor-fetch-'));
});

after(async () => {
  await server.close();
});

/** Write train (annotations first), validation and test files listing `paths` on the server. */
async function writeSets(folder: string, paths: string[], extraTrain: string[] = []): Promise<Map<string, string>> {
  await mkdir(folder, { recursive: true });
  const byId = new Map<string, string>();
  const train = paths.map((p, i) => ({ imageId: String(i + 1), url: server.url + p }));
  // Image 100 repeats image 1's URL: fetched once, listed twice.
  train.push({ imageId: '100', url: server.url + (paths[0] as string) });
  extraTrain.forEach((p, i) => train.push({ imageId: String(200 + i), url: server.url + p }));
  for (const t of train) byId.set(t.imageId, new URL(t.url).pathname);
  await writeImFile(join(folder, 'train.json'), {
    images: train,
    annotations: train.map((t) => ({ imageId: t.imageId, labelId: ['7', String(Number(t.imageId) % 3), '7'] })),
    annotationsFirst: true,
  });
  await writeImFile(join(folder, 'validation.json'), {
    images: [{ imageId: '1', url: `${server.url}/img/5.jpg` }],
    annotations: [{ imageId: '1', labelId: ['2'] }],
  });
  await writeImFile(join(folder, 'test.json'), {
    images: [
      { imageId: '1', url: `${server.url}/img/6.jpg` },
      { imageId: '2', url: `${server.url}/status/404/test.jpg` },
    ],
  });
  return byId;
}

describe('fetch with injected faults', () => {
  let data: string;
  let state: string;
  let byId: Map<string, string>;
  let firstOut: string;

  it('stores every image decodable or lists it with its reason; retries only transient failures', async () => {
    data = join(dir, 'data');
    state = join(dir, 'state');
    byId = await writeSets(data, Object.keys(CASES));
    server.reset();
    const run = await runStage(
      FETCH,
      { train: 'train.json', validation: 'validation.json', test: 'test.json', ...FAST },
      { needs: { src: data }, state },
    );
    firstOut = run.out;
    const rows = await readJsonlAll<ManifestEntry>(join(run.out, 'manifest.jsonl'));
    assert.equal(rows.length, byId.size + 1 + 2, 'one manifest line per listed image');
    const failures = (await readFile(join(run.out, 'failures.csv'), 'utf8')).trim().split('\n');
    assert.equal(failures[0], 'imageId,url,reason');
    const failureRows = failures.slice(1);
    for (const row of rows) {
      if (row.file !== undefined) {
        assert.equal(row.error, undefined);
        const meta = await sharp(join(run.out, row.file)).metadata();
        assert.ok((meta.width ?? 0) > 1, `${row.imageId} stored and decodable`);
      } else {
        assert.ok(row.error, `${row.set} ${row.imageId} has a file or an error`);
        assert.ok(
          failureRows.some((f) => f.startsWith(`${row.imageId},`) && f.endsWith(`,${row.error}`)),
          `failure of ${row.imageId} listed`,
        );
      }
    }
    assert.equal(failureRows.length, rows.filter((r) => r.error).length);
    for (const row of rows.filter((r) => r.set === 'train')) {
      const path = byId.get(row.imageId) as string;
      const c = CASES[path];
      assert.ok(c, `case for ${path}`);
      if (c.expect === 'ok') assert.ok(row.file, `${path} should be fetched (got ${row.error})`);
      else assert.equal(row.error, c.expect, path);
      // Labels joined from annotations that came first, the repeated label removed.
      assert.deepEqual(row.labels, ['7', String(Number(row.imageId) % 3)]);
    }
    for (const [path, c] of Object.entries(CASES)) {
      if (path.startsWith('/slow/')) continue; // checked below: a timed-out request is counted when it arrives
      assert.equal(server.requests.get(path), c.requests, `requests for ${path}`);
    }
    assert.equal(server.requests.get('/slow/3000/5.jpg'), 3, 'timeouts are retried');
    const loops = (server.requests.get('/loop/a/x.jpg') ?? 0) + (server.requests.get('/loop/b/x.jpg') ?? 0);
    assert.equal(loops, 0);
    const test = rows.filter((r) => r.set === 'test');
    assert.deepEqual(
      test.map((r) => [r.imageId, r.labels, r.error ?? 'ok']),
      [
        ['1', undefined, 'ok'],
        ['2', undefined, 'http 404'],
      ],
    );
    const m = run.metrics as { failures_by_reason: Record<string, number>; failed: number; ok: number };
    assert.equal(m.failures_by_reason['http 404'], 2);
    assert.equal(m.failures_by_reason['timeout'], 1);
    assert.equal(m.ok + m.failed, rows.length);
  });

  it('a rerun fetches only earlier transient failures, and nothing with refetch_failed: none', async () => {
    server.reset();
    const again = await runStage(
      FETCH,
      { train: 'train.json', validation: 'validation.json', test: 'test.json', ...FAST, refetch_failed: 'none' },
      { needs: { src: data }, state },
    );
    assert.equal(server.total(), 0, 'nothing requested');
    assert.equal(
      await readFile(join(again.out, 'manifest.jsonl'), 'utf8'),
      await readFile(join(firstOut, 'manifest.jsonl'), 'utf8'),
    );

    server.reset();
    await runStage(
      FETCH,
      { train: 'train.json', validation: 'validation.json', test: 'test.json', ...FAST },
      { needs: { src: data }, state },
    );
    const transient = Object.entries(CASES)
      .filter(([, c]) => c.requests === 3)
      .map(([p]) => p)
      .sort();
    assert.deepEqual([...server.requests.keys()].sort(), transient);
  });

  it('new URLs added to the files are the only ones fetched', async () => {
    await writeSets(data, Object.keys(CASES), ['/img/6.jpg', '/img/7.jpg', '/loop/a/x.jpg']);
    server.reset();
    const run = await runStage(
      FETCH,
      { train: 'train.json', validation: 'validation.json', test: 'test.json', ...FAST, refetch_failed: 'none' },
      { needs: { src: data }, state },
    );
    // /img/6.jpg was already fetched for the test set: only 7.jpg and the redirect loop are new.
    assert.deepEqual([...server.requests.keys()].sort(), ['/img/7.jpg', '/loop/a/x.jpg', '/loop/b/x.jpg']);
    assert.equal(
      (server.requests.get('/loop/a/x.jpg') ?? 0) + (server.requests.get('/loop/b/x.jpg') ?? 0),
      FAST.max_redirects + 1,
    );
    const rows = await readJsonlAll<ManifestEntry>(join(run.out, 'manifest.jsonl'));
    assert.equal(rows.find((r) => r.set === 'train' && r.imageId === '202')?.error, 'too many redirects');
    assert.ok(rows.find((r) => r.set === 'train' && r.imageId === '201')?.file);
  });

  it('fails above max_failure_share, naming the main reasons', async () => {
    await assert.rejects(
      runStage(
        FETCH,
        { train: 'train.json', ...FAST, refetch_failed: 'none', max_failure_share: 0.2 },
        { needs: { src: data }, state },
      ),
      /above max_failure_share 0\.2: .*http 404/,
    );
  });
});

describe('fetch cancellation', () => {
  it('stops promptly when aborted and records nothing about interrupted requests', async () => {
    const data = join(dir, 'abort');
    await mkdir(data, { recursive: true });
    await writeImFile(join(data, 'train.json'), {
      images: Array.from({ length: 12 }, (_, i) => ({
        imageId: String(i + 1),
        url: `${server.url}/slow/20000/${i % 8}.jpg?${i}`,
      })),
    });
    const state = join(dir, 'abort-state');
    const ac = new AbortController();
    const started = Date.now();
    const run = runStage(
      FETCH,
      { train: 'train.json', concurrency: 4, timeout_ms: 60000 },
      { needs: { src: data }, state, signal: ac.signal },
    );
    setTimeout(() => ac.abort(), 300);
    await assert.rejects(run, /aborted/);
    assert.ok(Date.now() - started < 5000, `stopped after ${Date.now() - started} ms`);
    const db = new Database(join(state, 'index.sqlite'), { readonly: true });
    assert.equal((db.prepare('SELECT count(*) AS n FROM sources').get() as { n: number }).n, 0);
    db.close();
  });
});

describe('fetch of local files', () => {
  it('resolves file: URLs against the JSON folder, refuses escapes, reports missing files', async () => {
    const data = join(dir, 'local');
    await mkdir(join(data, 'images'), { recursive: true });
    await writeFile(join(data, 'images', 'a.jpg'), await solidImage(30, 20, [10, 200, 30]));
    await writeFile(join(dir, 'outside.jpg'), await solidImage(30, 20, [10, 200, 30]));
    await writeImFile(join(data, 'train.json'), {
      images: [
        { imageId: '1', url: 'file:images/a.jpg' },
        { imageId: '2', url: 'file:images/missing.jpg' },
        { imageId: '3', url: 'file:../outside.jpg' },
        { imageId: '4', url: `file://${join(dir, 'outside.jpg')}` },
        { imageId: '5', url: 'ftp://example.invalid/x.jpg' },
      ],
      annotations: [{ imageId: '1', labelId: ['1'] }],
    });
    // No upstream stage: the path is relative to the working folder.
    const run = await runStage(FETCH, { train: 'local/train.json', max_failure_share: 1 }, { workdir: dir });
    const rows = await readJsonlAll<ManifestEntry>(join(run.out, 'manifest.jsonl'));
    assert.deepEqual(
      rows.map((r) => r.error ?? 'ok'),
      ['ok', 'not found', 'file url outside the dataset folder', 'ok', 'unsupported url scheme'],
    );
    assert.deepEqual(rows[1]?.labels, [], 'an image without annotation has no labels');
    assert.ok(existsSync(join(run.out, rows[0]?.file as string)));
  });

  it('explains a wrong `from` and missing inputs', async () => {
    await assert.rejects(
      runStage(FETCH, { train: 'x.json', from: 'nope' }, { needs: { a: dir, b: dir } }),
      /from: "nope" is not an upstream stage/,
    );
    await assert.rejects(runStage(FETCH, { train: 'x.json' }, { needs: { a: dir, b: dir } }), /set "from"/);
    await assert.rejects(runStage(FETCH, { train: 'missing.json' }, { workdir: dir }), /train: file not found/);
    await assert.rejects(runStage(FETCH, {}, { workdir: dir }), /at least one of the params/);
  });
});
