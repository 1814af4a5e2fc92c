/**
 * `shards: N` in the pipeline YAML, through the real CLI on the local executor: fetch (from a
 * loopback HTTP server) and pad sharded three ways give the same content hashes as unsharded, so the
 * stage downstream keeps its key; each image is downloaded once, by its own shard, and a new image
 * is fetched and padded alone. Stages that cannot be sharded, and bad counts, are refused with the
 * file, line and key.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Workspace } from './helpers/rig.js';
import { latestOutputs as latest } from './helpers/latest-outputs.js';
import { distinctJpegs, writeImFile } from './fixtures/data/images.js';

let server: Server;
let base = '';
let images: Map<string, Buffer>;
const hits = new Map<string, number>();

before(async () => {
  images = await distinctJpegs(16);
  server = createServer((req, res) => {
    const name = (req.url ?? '').slice(1);
    hits.set(name, (hits.get(name) ?? 0) + 1);
    const body = images.get(name);
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': body.length }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => new Promise<void>((r) => server.close(() => r())));

const PIPELINE = (shards: string) => `stages:
  fetch:
    uses: fetch
    deps: [train.json, test.json]
    params: { train: train.json, test: test.json, retries: 0, max_failure_share: 0.5 }
${shards}
  pad:
    uses: pad
    needs: [fetch]
    params: { size: 32, preview_images: 4 }
${shards}
  count:
    cmd: "wc -l < \${needs.pad}/manifest.jsonl > \${out}/n"
    needs: [pad]
`;

async function writeSets(ws: Workspace, trainImages: number): Promise<void> {
  const train = Array.from({ length: trainImages }, (_, i) => ({ imageId: String(i + 1), url: `${base}/${i}.jpg` }));
  train.push({ imageId: 'gone', url: `${base}/missing.jpg` });
  await writeImFile(ws.path('train.json'), {
    images: train,
    annotations: train.map((t, i) => ({ imageId: t.imageId, labelId: [String(1 + (i % 3))] })),
  });
  const test = [12, 13, 14].map((i) => ({ imageId: String(i - 11), url: `${base}/${i}.jpg` }));
  await writeImFile(ws.path('test.json'), { images: test });
}

test('fetch and pad with shards: 3 assemble to the unsharded outputs; images fetched once; one new image costs one', async () => {
  const ws = await Workspace.create('tailor-yaml-shards-');
  try {
    await writeSets(ws, 10);
    await ws.write('p.yaml', PIPELINE(''));
    const plain = await ws.run(['p.yaml', '--cache', 'plain']);
    assert.equal(plain.code, 0, plain.result.stderr);
    const want = await latest(ws, 'plain');

    hits.clear();
    await ws.write('p.yaml', PIPELINE('    shards: 3'));
    const sharded = await ws.run(['p.yaml', '--cache', 'sharded']);
    assert.equal(sharded.code, 0, sharded.result.stderr);
    assert.deepEqual(Object.keys(sharded.actions).sort(), [
      'count',
      'fetch',
      'fetch#1',
      'fetch#2',
      'fetch#3',
      'pad',
      'pad#1',
      'pad#2',
      'pad#3',
    ]);
    const got = await latest(ws, 'sharded');
    for (const stage of ['fetch', 'pad']) {
      assert.ok(want.get(stage)?.contentHash, `${stage} has a content hash`);
      assert.equal(got.get(stage)?.contentHash, want.get(stage)?.contentHash, `${stage}: assembled = unsharded`);
    }
    assert.equal(got.get('count')?.stageKey, want.get('count')?.stageKey, 'the downstream key is unchanged');
    const shardKeys = new Set(['pad#1', 'pad#2', 'pad#3'].map((s) => got.get(s)?.stageKey));
    assert.equal(shardKeys.size, 3, 'each shard has its own key');
    for (const i of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 14])
      assert.equal(hits.get(`${i}.jpg`), 1, `${i}.jpg downloaded once`);
    const metrics = JSON.parse(await readOut(ws, 'sharded', got.get('fetch')!.treeHash)) as Record<string, unknown>;
    assert.equal(metrics.ok, 13);
    assert.equal(metrics.failed, 1);
    assert.ok(Math.abs((metrics.failure_share as number) - 1 / 14) < 1e-9, 'the share of the whole run');

    // One more image: the shards rerun (their input changed) but download and pad only it.
    hits.clear();
    await writeSets(ws, 11);
    const again = await ws.run(['p.yaml', '--cache', 'sharded']);
    assert.equal(again.code, 0, again.result.stderr);
    assert.deepEqual(
      [...hits].filter(([n]) => n !== 'missing.jpg'),
      [['10.jpg', 1]],
    );
    const padRow = (await latest(ws, 'sharded')).get('pad')!;
    const padMetrics = JSON.parse(await readOut(ws, 'sharded', padRow.treeHash)) as Record<string, number>;
    assert.equal(padMetrics.padded, 1, 'only the new image padded');
    assert.equal(padMetrics.images, 15);
    assert.equal(padMetrics.size, 32, 'settings are not summed');
  } finally {
    await ws.dispose();
  }
});

function readOut(ws: Workspace, cache: string, treeHash: string): Promise<string> {
  return readFile(join(ws.path(cache), 'objects', treeHash.slice(0, 2), treeHash, 'metrics.json'), 'utf8');
}

test('shards: errors name the file, line and key', async () => {
  const ws = await Workspace.create('tailor-yaml-shards-');
  try {
    await ws.write('in.txt', 'x\n');
    await ws.write(
      'p.yaml',
      `stages:
  items:
    cmd: "cp in.txt \${out}/"
    deps: [in.txt]
  split:
    uses: split
    needs: [items]
    shards: 2
  zero:
    cmd: "true"
    shards: 0
  pad:
    uses: pad
    needs: [items]
    shards: 2
    params: { shard: { index: 0, count: 2 } }
`,
    );
    const r = await ws.tailor(['status', 'p.yaml']);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      /p\.yaml:8:\d+.*shards: 2 needs a stage that takes a share of its items; this built-in stage does not/,
    );
    assert.match(r.stderr, /p\.yaml:11:\d+.*shards/);
    assert.match(r.stderr, /p\.yaml:16:\d+.*params\.shard is set by shards: 2/);
  } finally {
    await ws.dispose();
  }
});

test('--set STAGE.shards=N shards a stage from the command line (same outputs); refused where the stage cannot take it', async () => {
  const ws = await Workspace.create('tailor-yaml-shards-');
  try {
    await writeSets(ws, 6);
    await ws.write('p.yaml', PIPELINE(''));
    const plain = await ws.run(['p.yaml', '--cache', 'plain']);
    assert.equal(plain.code, 0, plain.result.stderr);
    const want = await latest(ws, 'plain');
    const set = await ws.run(['p.yaml', '--cache', 'set', '--set', 'pad.shards=2', '--set', 'fetch.shards=1']);
    assert.equal(set.code, 0, set.result.stderr);
    assert.deepEqual(Object.keys(set.actions).sort(), ['count', 'fetch', 'pad', 'pad#1', 'pad#2']);
    const got = await latest(ws, 'set');
    assert.equal(got.get('pad')?.contentHash, want.get('pad')?.contentHash, 'assembled = unsharded');
    assert.equal(got.get('count')?.stageKey, want.get('count')?.stageKey);

    const bad = await ws.tailor(['status', 'p.yaml', '--set', 'count.shards=x', '--set', 'pad.shards=0']);
    assert.equal(bad.code, 2, bad.stdout + bad.stderr);
    assert.match(bad.stderr, /--set:1:14 .*stages\.count\.shards must be an integer/);
    assert.match(bad.stderr, /--set:2:12 .*stages\.pad\.shards must be >= 1/);
    await ws.write('p.yaml', PIPELINE('').replace('  count:', '  other:\n    uses: split\n    needs: [pad]\n  count:'));
    const refused = await ws.tailor(['status', 'p.yaml', '--set', 'other.shards=2']);
    assert.equal(refused.code, 2, refused.stdout + refused.stderr);
    assert.match(refused.stderr, /--set:1:7 .*shards: 2 needs a stage that takes a share of its items/);
  } finally {
    await ws.dispose();
  }
});
