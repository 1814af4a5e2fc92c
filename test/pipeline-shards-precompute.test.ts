/**
 * precompute with `shards: N`, through the real CLI on the backend the install step set up
 * (tfjs-node here; TAILOR_BACKEND=wasm for the other): three shards, each computing the features
 * of its images, assemble into the bytes of the unsharded run — rows and missing lists in split
 * order, shard files cut at the same `shard_rows` — so the stage below keeps its key. That the
 * hashes match is also the check that the backend gives an image the same features whatever batch
 * it is computed in (the shards batch other images together). A new image is computed once, by
 * its own shard; the others are served from the shards' per-image caches. Shards that disagree
 * on what the features are, or on how they are cut, are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { REPO, Workspace } from './helpers/rig.js';
import { latestOutputs as latest } from './helpers/latest-outputs.js';
import { makeShapesDataset } from './fixtures/ml/shapes-dataset.js';
import { shardOf } from '../src/stage-kit/shard.js';
import { assembleFeatureShards } from '../src/ml/feature-assembly.js';

const FOLDER = join(REPO, 'test', 'fixtures', 'ml', 'folder-stage.ts');

const pipeline = (data: string, shards: string) => `stages:
  pad: { uses: ${JSON.stringify(FOLDER)}, deps: [data/pad], params: { dir: ${JSON.stringify(join(data, 'pad'))} } }
  split: { uses: ${JSON.stringify(FOLDER)}, deps: [data/split], params: { dir: ${JSON.stringify(join(data, 'split'))} } }
  precompute:
    uses: precompute
    needs: [pad, split]
    params: { backbone: tiny, input_size: 32, batch_size: 8, shard_rows: 7 }
${shards}
  count:
    cmd: "wc -l < \${needs.precompute}/rows-train.jsonl > \${out}/n"
    needs: [precompute]
`;

/** An output folder's files (name -> bytes; not its folders) from the cache's object store. */
async function outputFiles(ws: Workspace, cache: string, treeHash: string): Promise<Map<string, Buffer>> {
  const dir = join(ws.path(cache), 'objects', treeHash.slice(0, 2), treeHash);
  const files = new Map<string, Buffer>();
  for (const e of await readdir(dir, { withFileTypes: true }))
    if (e.isFile()) files.set(e.name, await readFile(join(dir, e.name)));
  return files;
}

test('precompute with shards: 3 assembles to the unsharded features; a new image is computed once', async () => {
  const ws = await Workspace.create('tailor-shards-precompute-');
  try {
    const data = ws.path('data');
    await makeShapesDataset(data, { counts: { train: 30, validation: 10, holdout: 10, test: 6 } });
    await ws.write('p.yaml', pipeline(data, ''));
    const plain = await ws.run(['p.yaml', '--cache', 'plain']);
    assert.equal(plain.code, 0, plain.result.stderr);
    const want = await latest(ws, 'plain');

    await ws.write('p.yaml', pipeline(data, '    shards: 3'));
    const sharded = await ws.run(['p.yaml', '--cache', 'sharded']);
    assert.equal(sharded.code, 0, sharded.result.stdout + sharded.result.stderr);
    assert.deepEqual(
      ['precompute#1', 'precompute#2', 'precompute#3', 'precompute'].map((s) => sharded.actions[s]),
      ['ran', 'ran', 'ran', 'ran'],
    );
    const got = await latest(ws, 'sharded');
    const a = await outputFiles(ws, 'plain', want.get('precompute')!.treeHash);
    const b = await outputFiles(ws, 'sharded', got.get('precompute')!.treeHash);
    assert.deepEqual([...b.keys()], [...a.keys()], 'the same files');
    assert.ok(a.has('train-00004.f16'), 'train is cut into shard files of 7 rows');
    for (const [f, bytes] of a) if (f !== 'metrics.json') assert.ok(bytes.equals(b.get(f)!), `${f}: same bytes`);
    assert.equal(got.get('precompute')?.contentHash, want.get('precompute')?.contentHash, 'assembled = unsharded');
    assert.equal(got.get('count')?.stageKey, want.get('count')?.stageKey, 'the stage below keeps its key');
    const metrics = (m: Map<string, Buffer>) =>
      (JSON.parse(m.get('metrics.json')!.toString()) as { precompute: Record<string, number> }).precompute;
    assert.equal(metrics(b).computed, metrics(a).computed, 'every image computed once over the shards');
    assert.equal(metrics(b).missing, 2);
    assert.equal(metrics(b).rows, metrics(a).rows);

    // A new training image: each shard reruns (its input changed) but only the new image's computes.
    await sharp({ create: { width: 48, height: 48, channels: 3, background: '#2ca02c' } })
      .jpeg()
      .toFile(join(data, 'pad', 'images', 'new.jpg'));
    await appendFile(
      join(data, 'split', 'train.jsonl'),
      JSON.stringify({ imageId: '9999', set: 'train', labels: ['2'], file: 'images/new.jpg' }) + '\n',
    );
    const again = await ws.run(['p.yaml', '--cache', 'sharded']);
    assert.equal(again.code, 0, again.result.stderr);
    const rows = await latest(ws, 'sharded');
    const computed = await Promise.all(
      [1, 2, 3].map(async (i) => {
        return metrics(await outputFiles(ws, 'sharded', rows.get(`precompute#${i}`)!.treeHash)).computed;
      }),
    );
    const own = shardOf('9999', 3);
    assert.deepEqual(
      computed,
      [0, 1, 2].map((i) => (i === own ? 1 : 0)),
      'the new image, by its own shard',
    );
    const trainRows = (await outputFiles(ws, 'sharded', rows.get('precompute')!.treeHash))
      .get('rows-train.jsonl')!
      .toString()
      .trim()
      .split('\n');
    assert.equal(trainRows.length, 31);
    assert.equal((JSON.parse(trainRows.at(-1)!) as { imageId: string }).imageId, '9999', 'in split order: last');
    await ws.write('p.yaml', pipeline(data, ''));
    const plainAgain = await ws.run(['p.yaml', '--cache', 'plain']);
    assert.equal(plainAgain.code, 0, plainAgain.result.stderr);
    const wantAgain = (await latest(ws, 'plain')).get('precompute')?.contentHash;
    assert.equal(rows.get('precompute')?.contentHash, wantAgain, 'with the new image too');
  } finally {
    await ws.dispose();
  }
});

test('the feature assembly refuses shards that are not one precompute’s', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tailor-feature-assembly-'));
  try {
    const part = async (name: string, index: object | undefined, shardRows = 8) => {
      await mkdir(join(dir, name, '_shard'), { recursive: true });
      if (index) await writeFile(join(dir, name, 'features.json'), JSON.stringify(index));
      await writeFile(join(dir, name, '_shard', 'features-layout.json'), JSON.stringify({ shard_rows: shardRows }));
      return join(dir, name);
    };
    const index = (dtype: string) => ({
      format: 'tailor-features/1',
      backbone: { name: 'tiny', id: 'tiny-1', inputSize: 32, preprocess: 'unit' },
      dim: 0,
      dtype,
      flip: 'none',
      labels: ['1'],
      splits: {},
    });
    const a = await part('a', index('float16'));
    assert.equal(await assembleFeatureShards([await part('c', undefined), await part('d', undefined)], dir), undefined);
    await assert.rejects(
      assembleFeatureShards([a, await part('b', undefined)], join(dir, 'out')),
      /only 1 of 2 shards/,
    );
    await assert.rejects(
      assembleFeatureShards([a, await part('e', index('float32'))], join(dir, 'out')),
      /differ from the first shard's/,
    );
    await assert.rejects(
      assembleFeatureShards([a, await part('f', index('float16'), 4)], join(dir, 'out')),
      /different sizes: 8, 4/,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
