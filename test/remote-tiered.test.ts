/**
 * TieredCache, the interface the engine will hold: an output committed in one cache and published
 * is restored into another from the remote (then from the local store), and remote trouble (an
 * unreachable endpoint) is a notice and a miss, never an exception.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from '../src/run/session.js';
import { stageKey, type Ingredients } from '../src/run/stage-key.js';
import { LocalCache } from '../src/remote/local-cache.js';
import { RemoteCache } from '../src/remote/remote-cache.js';
import { FolderStore } from '../src/remote/folder-store.js';
import { S3Store } from '../src/remote/s3-store.js';
import { TieredCache } from '../src/remote/tiered-cache.js';
import type { TransferEvent } from '../src/remote/transfer-meter.js';

const ingredients: Ingredients = {
  api: 1,
  kind: 'cmd',
  definition: 'make',
  params: { n: 1 },
  seed: 0,
  needs: {},
  deps: {},
};
const key = stageKey(ingredients);

/** What the engine does after a stage succeeded: commit its temp folder and record the output. */
async function commitOutput(session: Session): Promise<string> {
  const tmp = await session.store.newTempDir('make');
  await writeFile(join(tmp, 'out.txt'), 'made\n');
  await writeFile(join(tmp, 'metrics.json'), '{"score":0.5}');
  const c = await session.store.commit(tmp);
  new LocalCache(session).register(
    {
      stageKey: key,
      treeHash: c.treeHash,
      contentHash: c.contentHash,
      pipeline: 'p',
      stage: 'make',
      ingredients,
      metrics: { score: 0.5 },
      createdAt: Date.now(),
      seconds: 1,
    },
    { pipeline: 'p', stage: 'make' },
  );
  return c.treeHash;
}

test('publish from one cache, restore into another: from remote, then from local', async () => {
  const root = await mkdtemp(join(tmpdir(), 'tailor-tiered-'));
  const one = await Session.open(join(root, 'one'));
  const two = await Session.open(join(root, 'two'));
  const remote = () => new FolderStore(`file://${root}/remote`, join(root, 'remote'));
  try {
    const treeHash = await commitOutput(one);
    const contentHash = new LocalCache(one).output(key)!.contentHash!;
    const pusher = new TieredCache(new LocalCache(one), new RemoteCache(remote(), new LocalCache(one)), { push: true });
    const published = await pusher.publish(key, 'make');
    assert.equal(published?.kind, 'pushed');
    assert.equal(await new TieredCache(new LocalCache(one)).publish(key, 'make'), undefined, 'no remote: no push');
    await pusher.close();

    const events: TransferEvent[] = [];
    const local = new LocalCache(two);
    const puller = new TieredCache(local, new RemoteCache(remote(), local, { onEvent: (e) => events.push(e) }));
    assert.deepEqual(await puller.lookup(key), { from: 'remote', treeHash, contentHash });
    const first = await puller.restore(key, { pipeline: 'p', stage: 'make' });
    assert.equal(first?.from, 'remote');
    assert.equal(first?.record.treeHash, treeHash);
    assert.deepEqual(first?.record.metrics, { score: 0.5 });
    assert.equal(await readFile(join(two.store.pathOf(treeHash), 'out.txt'), 'utf8'), 'made\n');
    assert.ok(events.some((e) => e.type === 'transfer-end' && e.direction === 'pull'));
    const second = await puller.restore(key, { pipeline: 'p', stage: 'make' });
    assert.equal(second?.from, 'local');
    assert.deepEqual(await puller.lookup(key), { from: 'local', treeHash, contentHash });
    await puller.close();
  } finally {
    one.close();
    two.close();
    await rm(root, { recursive: true, force: true });
  }
});

test('an unreachable remote is a notice and a miss', async () => {
  const root = await mkdtemp(join(tmpdir(), 'tailor-tiered-'));
  const session = await Session.open(join(root, 'c'));
  const env = {
    AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
    AWS_ACCESS_KEY_ID: 'x',
    AWS_SECRET_ACCESS_KEY: 'y',
    AWS_MAX_ATTEMPTS: '1',
  };
  const local = new LocalCache(session);
  const notices: string[] = [];
  const onEvent = (e: TransferEvent) => {
    if (e.type === 'remote-notice') notices.push(e.message);
  };
  const cache = new TieredCache(local, new RemoteCache(new S3Store('s3://tailor', 'tailor', '', env), local), {
    push: true,
    onEvent,
  });
  try {
    assert.equal(await cache.lookup(key), undefined);
    assert.equal(await cache.restore(key, { pipeline: 'p', stage: 'make' }), undefined);
    await commitOutput(session);
    assert.equal(await cache.publish(key, 'make'), undefined);
    assert.equal(notices.length, 3, notices.join('\n'));
    assert.match(notices[1]!, /remote cache unavailable, running the stage/);
  } finally {
    await cache.close();
    session.close();
    await rm(root, { recursive: true, force: true });
  }
});
