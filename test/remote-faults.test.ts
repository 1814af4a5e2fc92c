/**
 * Fault injection between tailor and s3rver: a proxy on 127.0.0.1 answers some requests with 500,
 * drops some connections and cuts some response bodies in half. Push and pull still complete
 * through retries (the SDK's and tailor's own range-resuming ones), and what they restore is the
 * exact output. A proxy that flips a byte in every blob download makes the pull a miss with
 * nothing registered, and the stage then reruns.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { Workspace, withAction } from './helpers/rig.js';
import { startFaultProxy, type FaultRule } from './helpers/fault-proxy.js';
import { startRemote, transfer } from './helpers/remote-rig.js';

const PIPELINE = `
stages:
  data:
    cmd: "echo data >> runs.log && for i in $(seq 1 40); do echo row $i > \${out}/r$i.txt; done && head -c 3000000 /dev/urandom > \${out}/blob.bin"
  sum:
    cmd: "echo sum >> runs.log && cat \${needs.data}/r*.txt | wc -l > \${out}/n.txt"
    needs: [data]
`;

/** Roughly one request in four goes wrong, in every way the proxy knows. */
const FLAKY: FaultRule = ({ method, n }) => {
  if (n % 7 === 3) return 'error500';
  if (n % 11 === 5) return 'drop';
  if (method === 'GET' && n % 5 === 1) return 'truncate';
  return 'pass';
};

test('s3 through a flaky proxy: push and pull retry and restore the exact output', async () => {
  const remote = await startRemote('s3');
  const proxy = await startFaultProxy(remote.endpoint!, FLAKY);
  const env = { ...remote.env, AWS_ENDPOINT_URL: proxy.endpoint };
  const a = await Workspace.create('tailor-remote-');
  const b = await Workspace.create('tailor-remote-');
  try {
    for (const ws of [a, b]) await ws.write('pipelines/p.yaml', PIPELINE);
    assert.equal((await a.run(['pipelines/p.yaml'])).code, 0);
    const push = await transfer(a, 'push', ['pipelines/p.yaml'], env);
    assert.equal(push.code, 0, push.stderr);
    assert.deepEqual(push.states, { data: 'pushed', sum: 'pushed' });
    const pull = await transfer(b, 'pull', ['pipelines/p.yaml'], env);
    assert.equal(pull.code, 0, pull.stderr);
    assert.deepEqual(pull.states, { data: 'pulled', sum: 'pulled' });
    assert.ok(push.body.retries + pull.body.retries > 0, 'retries were needed and counted');
    assert.ok(
      proxy.counts.error500 > 0 && proxy.counts.drop > 0 && proxy.counts.truncate > 0,
      JSON.stringify(proxy.counts),
    );

    const run = await b.run(['pipelines/p.yaml']);
    assert.deepEqual(withAction(run.actions, 'cached'), ['data', 'sum']);
    assert.deepEqual(await b.runCounts(), {});
    // The restored objects are the pushed ones, byte for byte: same tree hashes in both caches.
    assert.deepEqual(await objects(b), await objects(a));
  } finally {
    await a.dispose();
    await b.dispose();
    await proxy.stop();
    await remote.stop();
  }
});

test('s3: blob downloads with a flipped byte are a miss, nothing registered, the stage reruns', async () => {
  const remote = await startRemote('s3');
  const proxy = await startFaultProxy(remote.endpoint!, () => 'pass');
  const env = { ...remote.env, AWS_ENDPOINT_URL: proxy.endpoint };
  const a = await Workspace.create('tailor-remote-');
  const b = await Workspace.create('tailor-remote-');
  try {
    for (const ws of [a, b]) await ws.write('pipelines/p.yaml', PIPELINE);
    assert.equal((await a.run(['pipelines/p.yaml'])).code, 0);
    assert.equal((await transfer(a, 'push', ['pipelines/p.yaml'], env)).code, 0);

    proxy.setRule(({ method, url }) => (method === 'GET' && url.includes('/blobs/') ? 'corrupt' : 'pass'));
    const pull = await transfer(b, 'pull', ['pipelines/p.yaml'], env);
    assert.equal(pull.code, 0, pull.stderr);
    assert.deepEqual(pull.states, { data: 'not-on-remote', sum: 'blocked' });
    assert.match(pull.body.stages[0]!.reason ?? '', /does not match its hash/);
    assert.ok(proxy.counts.corrupt > 0);
    assert.deepEqual(await objects(b), [], 'nothing entered the store');

    const run = await b.run(['pipelines/p.yaml']);
    assert.deepEqual(withAction(run.actions, 'ran'), ['data', 'sum']);
    assert.equal((await b.read('runs.log')).trim(), 'data\nsum');
  } finally {
    await a.dispose();
    await b.dispose();
    await proxy.stop();
    await remote.stop();
  }
});

async function objects(ws: Workspace): Promise<string[]> {
  const out: string[] = [];
  for (const shard of await readdir(ws.path('cache', 'objects')).catch(() => [] as string[]))
    out.push(...(await readdir(ws.path('cache', 'objects', shard))));
  return out.sort();
}
