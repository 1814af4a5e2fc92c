/**
 * Sharded per-item stages: items spread over shards by a stable hash, a sharded cmd stage run by
 * several real workers assembles to the bytes of the unsharded stage (so downstream keys do not
 * move), and each shard's per-item cache keeps working when items are added; `shards:` in the YAML
 * on the built-in pad does the same through `tailor run --executor redis://…`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Workspace } from './helpers/rig.js';
import { redisMissing, startRedis } from './helpers/services.js';
import { startWorker, type WorkerProc } from './helpers/distributed-workers.js';
import { loadOrThrow, runDistributed } from './helpers/distributed-driver.js';
import { expandShards, shardOf } from '../src/distributed/shards.js';
import { assembleShards } from '../src/data/shard-assembly.js';
import { RedisExecutor } from '../src/distributed/redis-executor.js';
import { Session } from '../src/run/session.js';
import { distinctJpegs } from './fixtures/data/images.js';

test('shardOf spreads ids evenly and never moves an id when others are added', () => {
  const counts = [0, 0, 0, 0];
  const ids = Array.from({ length: 20_000 }, (_, i) => String(i + 1));
  const before = new Map(ids.map((id) => [id, shardOf(id, 4)]));
  for (const s of before.values()) counts[s]!++;
  for (const c of counts) assert.ok(Math.abs(c - 5000) < 300, `shard sizes ${counts}`);
  for (const id of ids) assert.equal(shardOf(id, 4), before.get(id));
});

test('assembleShards orders manifest and imageId rows like the input, merges CSVs and metrics, refuses conflicts', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tailor-assemble-'));
  try {
    const w = async (rel: string, text: string) => {
      await mkdir(join(dir, rel, '..'), { recursive: true });
      await writeFile(join(dir, rel), text);
    };
    const line = (id: string, set = 'train') =>
      JSON.stringify({ imageId: id, set, labels: [], file: `images/${id}.jpg` });
    await w('in/manifest.jsonl', ['3', '1', '2', '4'].map((i) => line(i)).join('\n') + '\n' + line('1', 'test') + '\n');
    await w('a/manifest.jsonl', [line('1'), line('4'), line('1', 'test')].join('\n') + '\n');
    await w('b/manifest.jsonl', [line('3'), line('2')].join('\n') + '\n');
    await w('a/failures.csv', 'imageId,url,reason\n4,http://x/4,http 404\n');
    await w('b/failures.csv', 'imageId,url,reason\n3,http://x/3,timeout\n');
    await w('a/metrics.json', '{"images":3,"backend":"cpu"}');
    await w('b/metrics.json', '{"images":2,"backend":"cpu"}');
    await w('a/images/1.jpg', 'one');
    await w('b/images/3.jpg', 'three');
    await w('a/same.txt', 'x');
    await w('b/same.txt', 'x');
    await assembleShards([join(dir, 'a'), join(dir, 'b')], join(dir, 'out'), { orderBy: join(dir, 'in') });
    const r = (f: string) => readFile(join(dir, 'out', f), 'utf8');
    assert.equal(
      await r('manifest.jsonl'),
      ['3', '1', '2', '4'].map((i) => line(i)).join('\n') + '\n' + line('1', 'test') + '\n',
    );
    assert.equal(await r('failures.csv'), 'imageId,url,reason\n3,http://x/3,timeout\n4,http://x/4,http 404\n');
    assert.deepEqual(JSON.parse(await r('metrics.json')), { images: 5, backend: 'cpu' });
    assert.equal(await r('images/3.jpg'), 'three');
    assert.equal(await r('same.txt'), 'x');

    await w('b/same.txt', 'y');
    await assert.rejects(
      assembleShards([join(dir, 'a'), join(dir, 'b')], join(dir, 'out2')),
      /two shards wrote same.txt with different bytes/,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('assembleShards orders by the ranks built-in shards write, keeps empty folders, never copies _shard/', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tailor-assemble-'));
  try {
    const w = async (rel: string, text: string) => {
      await mkdir(join(dir, rel, '..'), { recursive: true });
      await writeFile(join(dir, rel), text);
    };
    const line = (id: string, set = 'train') => JSON.stringify({ imageId: id, set });
    const rank = (id: string, r: number, set = 'train') => JSON.stringify({ set, imageId: id, rank: r });
    // Unsharded order: b (train), a (train), a (test), c (train).
    await w('s1/manifest.jsonl', [line('a'), line('a', 'test')].join('\n') + '\n');
    await w('s1/_shard/order.jsonl', [rank('a', 1), rank('a', 2, 'test')].join('\n') + '\n');
    await w('s2/manifest.jsonl', [line('b'), line('c')].join('\n') + '\n');
    await w('s2/_shard/order.jsonl', [rank('b', 0), rank('c', 3)].join('\n') + '\n');
    await w('s1/failures.csv', 'imageId,url,reason\nc,u,http 404\n');
    await w('s2/failures.csv', 'imageId,url,reason\nb,u,http 404\n');
    await w('s1/metrics.json', '{"images":2,"failed":1,"failure_share":0.5,"size":32,"seconds":3}');
    await w('s2/metrics.json', '{"images":2,"failed":1,"failure_share":0.5,"size":32,"seconds":5}');
    await mkdir(join(dir, 's2', 'images'), { recursive: true });
    await assembleShards([join(dir, 's1'), join(dir, 's2')], join(dir, 'out'));
    const r = (f: string) => readFile(join(dir, 'out', f), 'utf8');
    assert.equal(await r('manifest.jsonl'), [line('b'), line('a'), line('a', 'test'), line('c')].join('\n') + '\n');
    assert.equal(await r('failures.csv'), 'imageId,url,reason\nb,u,http 404\nc,u,http 404\n');
    assert.deepEqual(JSON.parse(await r('metrics.json')), {
      images: 4,
      failed: 2,
      failure_share: 0.5,
      size: 32,
      seconds: 5,
    });
    assert.ok(existsSync(join(dir, 'out', 'images')), 'an empty folder of a shard is kept');
    assert.ok(!existsSync(join(dir, 'out', '_shard')), '_shard/ is for the assembly only');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

// make-items.sh OUT N: N items (a manifest line and a file each). per-item.sh IN OUT: upper-cases the
// items of its shard ($TAILOR_SHARD_INDEX of $TAILOR_SHARD_COUNT by cksum of the id), keeping each
// result in the stage's state folder and logging the ids it really computed to computed.log.
const MAKE_ITEMS = `out=$1; n=$2; mkdir -p "$out/images"
i=1; while [ $i -le $n ]; do
  echo "item number $i" > "$out/images/$i.txt"
  printf '{"imageId":"%s","set":"train","labels":[],"file":"images/%s.txt"}\\n' $i $i >> "$out/manifest.jsonl"
  i=$((i+1)); done
`;
const PER_ITEM = `in=$1; out=$2; idx=\${TAILOR_SHARD_INDEX:-0}; cnt=\${TAILOR_SHARD_COUNT:-1}
mkdir -p "$out/images" "$TAILOR_STATE"; echo "imageId,bytes" > "$out/sizes.csv"
while IFS= read -r line; do
  id=$(printf '%s\\n' "$line" | sed 's/.*"imageId":"\\([^"]*\\)".*/\\1/')
  h=$(printf '%s' "$id" | cksum | cut -d' ' -f1)
  [ $((h % cnt)) -eq "$idx" ] || continue
  if [ ! -f "$TAILOR_STATE/$id.txt" ]; then
    tr a-z A-Z < "$in/images/$id.txt" > "$TAILOR_STATE/$id.tmp" && mv "$TAILOR_STATE/$id.tmp" "$TAILOR_STATE/$id.txt"
    echo "$id" >> computed.log
  fi
  cp "$TAILOR_STATE/$id.txt" "$out/images/$id.txt"
  printf '%s\\n' "$line" >> "$out/manifest.jsonl"
  echo "$id,$(wc -c < "$TAILOR_STATE/$id.txt")" >> "$out/sizes.csv"
done < "$in/manifest.jsonl"
`;
const PIPELINE = (n: number) => `stages:
  items:
    cmd: "sh make-items.sh \${out} ${n}"
    deps: [make-items.sh]
  upper:
    cmd: "sh per-item.sh \${needs.items} \${out}"
    deps: [per-item.sh]
    needs: [items]
  count:
    cmd: "wc -l < \${needs.upper}/manifest.jsonl > \${out}/n && echo count >> runs.log"
    needs: [upper]
`;

test(
  'a sharded cmd stage run by several workers assembles to the unsharded output; downstream keys stay',
  { skip: redisMissing() },
  async () => {
    const ws = await Workspace.create('tailor-shards-');
    const redis = await startRedis();
    const workers: WorkerProc[] = [];
    const executor = new RedisExecutor(redis.url);
    try {
      await ws.write('make-items.sh', MAKE_ITEMS);
      await ws.write('per-item.sh', PER_ITEM);
      await ws.write('p.yaml', PIPELINE(30));
      const local = await ws.run(['p.yaml', '--cache', 'local-cache']);
      assert.equal(local.code, 0, local.result.stderr);
      const localSession = await Session.open(ws.path('local-cache'));
      const localLatest = localSession.index.outputs.latestOfPipeline('p.yaml');
      localSession.close();
      await rm(ws.path('computed.log'));

      const remoteUrl = pathToFileURL(ws.path('remote')).href;
      for (let i = 1; i <= 3; i++) {
        workers.push(await startWorker({ redisUrl: redis.url, remoteUrl, cacheDir: ws.path(`w${i}`), cwd: ws.dir }));
      }
      const sharded = expandShards(loadOrThrow('p.yaml', ws.dir), { upper: 3 });
      if (!sharded.ok) throw new Error(sharded.error);
      assert.deepEqual(
        sharded.value.stages.map((s) => s.name),
        ['items', 'upper#1', 'upper#2', 'upper#3', 'upper', 'count'],
      );
      const out = await runDistributed(sharded.value, {
        cacheDir: ws.path('run-cache'),
        executor,
        remoteUrl,
      });
      for (const o of Object.values(out)) assert.equal(o.action, 'ran', `${o.name}: ${o.message}`);
      assert.equal(
        out.upper!.treeHash,
        localLatest.get('upper')!.treeHash,
        'the assembled output is the unsharded one',
      );
      assert.equal(out.count!.key, localLatest.get('count')!.stageKey, 'downstream key unchanged');
      assert.ok(
        new Set(['upper#1', 'upper#2', 'upper#3'].map((s) => out[s]!.worker)).size >= 2,
        'shards ran on several workers',
      );
      const computed = (await ws.read('computed.log')).trim().split('\n');
      assert.equal(computed.length, 30, 'each item computed once, by its own shard');
    } finally {
      await executor.close();
      await Promise.all(workers.map((w) => w.stop()));
      await redis.stop();
      await ws.dispose();
    }
  },
);

test(
  'per-item caches keep working under sharding: one new item computes one item',
  { skip: redisMissing() },
  async () => {
    const ws = await Workspace.create('tailor-shards-');
    const redis = await startRedis();
    const executor = new RedisExecutor(redis.url);
    let worker: WorkerProc | undefined;
    try {
      await ws.write('make-items.sh', MAKE_ITEMS);
      await ws.write('per-item.sh', PER_ITEM);
      const remoteUrl = pathToFileURL(ws.path('remote')).href;
      // One worker with three slots: each shard's state stays on the machine that ran it.
      worker = await startWorker({
        redisUrl: redis.url,
        remoteUrl,
        cacheDir: ws.path('w'),
        cwd: ws.dir,
        concurrency: 3,
      });
      for (const n of [20, 21]) {
        await ws.write('p.yaml', PIPELINE(n));
        const sharded = expandShards(loadOrThrow('p.yaml', ws.dir), { upper: 3 });
        if (!sharded.ok) throw new Error(sharded.error);
        const out = await runDistributed(sharded.value, {
          cacheDir: ws.path('run-cache'),
          executor,
          remoteUrl,
        });
        for (const o of Object.values(out)) assert.equal(o.action, 'ran', `${o.name}: ${o.message}`);
      }
      const computed = (await ws.read('computed.log')).trim().split('\n');
      assert.equal(computed.length, 21, `20 items, then only item 21: ${computed.join(' ')}`);
      assert.equal(computed.at(-1), '21');
    } finally {
      await executor.close();
      await worker?.stop();
      await redis.stop();
      await ws.dispose();
    }
  },
);

test(
  'pad with `shards: 3` in the YAML, run by two BullMQ workers, gives the content hash of a local unsharded pad',
  { skip: redisMissing() },
  async () => {
    const ws = await Workspace.create('tailor-shards-');
    const redis = await startRedis();
    const workers: WorkerProc[] = [];
    try {
      const lines: string[] = [];
      for (const [name, bytes] of await distinctJpegs(12)) {
        await mkdir(ws.path('data', 'images'), { recursive: true });
        await writeFile(ws.path('data', 'images', name), bytes);
        lines.push(
          JSON.stringify({ imageId: name.slice(0, -4), set: 'train', labels: [], file: `data/images/${name}` }),
        );
      }
      await ws.write('data/manifest.jsonl', lines.join('\n') + '\n');
      const yaml = (shards: string) => `stages:
  pad:
    uses: pad
    deps: [data]
    params: { manifest: data/manifest.jsonl, size: 32, preview_images: 3 }
${shards}`;
      await ws.write('p.yaml', yaml(''));
      const local = await ws.run(['p.yaml', '--cache', 'local-cache']);
      assert.equal(local.code, 0, local.result.stderr);

      const remoteUrl = pathToFileURL(ws.path('remote')).href;
      for (let i = 1; i <= 2; i++) {
        workers.push(await startWorker({ redisUrl: redis.url, remoteUrl, cacheDir: ws.path(`w${i}`), cwd: ws.dir }));
      }
      await ws.write('p.yaml', yaml('    shards: 3\n'));
      const dist = await ws.run(['p.yaml', '--executor', redis.url, '--remote', remoteUrl, '--cache', 'run-cache']);
      assert.equal(dist.code, 0, dist.result.stderr);
      assert.deepEqual(dist.actions, { 'pad#1': 'ran', 'pad#2': 'ran', 'pad#3': 'ran', pad: 'ran' });
      const hashOf = async (cache: string) => {
        const s = await Session.open(ws.path(cache));
        const h = s.index.outputs.latestOfPipeline('p.yaml').get('pad')?.contentHash;
        s.close();
        return h;
      };
      const want = await hashOf('local-cache');
      assert.ok(want);
      assert.equal(await hashOf('run-cache'), want, 'assembled on the workers = unsharded locally');
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
      await redis.stop();
      await ws.dispose();
    }
  },
);
