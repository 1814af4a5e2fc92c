import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CacheIndex, CacheOpenError, SCHEMA_VERSION, type OutputRecord } from '../src/cache/index-db.js';

let root: string;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'tailor-index-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

function output(stageKey: string, treeHash: string, stage = 'pad'): OutputRecord {
  return {
    stageKey,
    treeHash,
    contentHash: treeHash.replace(/^./, '0'),
    pipeline: 'fashion',
    stage,
    ingredients: { params: { size: 224 }, code: { 'stages/pad.ts': 'abc' } },
    metrics: { images: 10 },
    createdAt: 1_700_000_000_000,
    seconds: 1.5,
  };
}

test('open creates the folders, a WAL database at the current schema version, and reopens', () => {
  const dir = join(root, 'c1');
  const index = CacheIndex.open(dir);
  for (const sub of ['objects', 'tmp', 'state', 'logs', 'index.sqlite']) assert.ok(existsSync(join(dir, sub)), sub);
  assert.equal(index.journalMode, 'wal');
  assert.equal(index.schemaVersion, SCHEMA_VERSION);
  index.putOutput(output('k1', 'a'.repeat(64)));
  index.close();
  index.close(); // idempotent
  const again = CacheIndex.open(dir);
  assert.equal(again.getOutput('k1')?.treeHash, 'a'.repeat(64));
  again.close();
});

test('a cache from a newer schema is refused with a clear message', () => {
  const dir = join(root, 'c2');
  CacheIndex.open(dir).close();
  const db = new Database(join(dir, 'index.sqlite'));
  db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
  db.close();
  assert.throws(
    () => CacheIndex.open(dir),
    (e: unknown) => e instanceof CacheOpenError && /newer than this tailor/.test(e.message),
  );
});

test('outputs and latest pointers round-trip; deleting an output drops its latest pointer', () => {
  const index = CacheIndex.open(join(root, 'c3'));
  try {
    assert.equal(index.getOutput('nope'), undefined);
    const rec = output('k1', 'b'.repeat(64));
    index.putOutput(rec);
    assert.deepEqual(index.getOutput('k1'), rec);
    assert.throws(() => index.setLatest('fashion', 'pad', 'unknown-key'), /FOREIGN KEY/);
    index.setLatest('fashion', 'pad', 'k1');
    assert.deepEqual(index.getLatest('fashion', 'pad'), rec);
    index.putOutput(output('k2', 'c'.repeat(64)));
    index.setLatest('fashion', 'pad', 'k2');
    assert.equal(index.getLatest('fashion', 'pad')?.stageKey, 'k2');
    assert.deepEqual(index.latestTreeHashes(), new Set(['c'.repeat(64)]));
    assert.equal(index.getLatest('other', 'pad'), undefined);
    assert.equal(index.deleteOutput('k2'), true);
    assert.equal(index.getLatest('fashion', 'pad'), undefined);
    assert.deepEqual(index.outputRefs(), [{ stageKey: 'k1', treeHash: 'b'.repeat(64) }]);
    assert.equal(index.outputsOfTree('b'.repeat(64)).length, 1);
  } finally {
    index.close();
  }
});

test('latestOfPipeline gives the latest output of every stage of one pipeline, in one query', () => {
  const index = CacheIndex.open(join(root, 'c3b'));
  try {
    const pad = output('kp', 'd'.repeat(64), 'pad');
    const split = output('ks', 'e'.repeat(64), 'split');
    index.putOutput(pad);
    index.putOutput(split);
    index.setLatest('fashion', 'pad', 'kp');
    index.setLatest('fashion', 'split', 'ks');
    index.setLatest('other', 'pad', 'ks');
    const latest = index.latestOfPipeline('fashion');
    assert.deepEqual([...latest.keys()].sort(), ['pad', 'split']);
    assert.deepEqual(latest.get('pad'), pad);
    assert.deepEqual(latest.get('split'), split);
    assert.deepEqual(
      index.latestOfPipeline('other').get('pad'),
      split,
      "keyed by the pointer, not the output's own stage",
    );
    assert.equal(index.latestOfPipeline('none').size, 0);
  } finally {
    index.close();
  }
});

test('transaction commits together or not at all', () => {
  const index = CacheIndex.open(join(root, 'c4'));
  try {
    const runId = index.beginRun({ pipeline: 'fashion', argv: ['run'], host: 'h', pid: 1 });
    assert.throws(() =>
      index.transaction(() => {
        index.putOutput(output('k1', 'd'.repeat(64)));
        index.setLatest('fashion', 'pad', 'k1');
        throw new Error('crash between writes');
      }),
    );
    assert.equal(index.getOutput('k1'), undefined);
    const value = index.transaction(() => {
      index.putOutput(output('k1', 'd'.repeat(64)));
      index.setLatest('fashion', 'pad', 'k1');
      return index.recordStageRun({
        runId,
        pipeline: 'fashion',
        stage: 'pad',
        stageKey: 'k1',
        action: 'ran',
        status: 'ok',
        start: 1,
        end: 2,
        seconds: 1,
        host: 'h',
        metrics: {},
        logPath: null,
        treeHash: 'd'.repeat(64),
      });
    });
    assert.equal(typeof value, 'number');
    assert.equal(index.getLatest('fashion', 'pad')?.stageKey, 'k1');
  } finally {
    index.close();
  }
});

test('runs and stage runs: history, filters, experiments, dangling runs', () => {
  const index = CacheIndex.open(join(root, 'c5'));
  try {
    const r1 = index.beginRun({ pipeline: 'fashion', argv: ['run', 'pipelines/fashion.yaml'], host: 'h1', pid: 11 });
    const r2 = index.beginRun({
      pipeline: 'fashion',
      argv: ['run'],
      host: 'h1',
      pid: 12,
      experiment: 'sizes',
      params: { 'pad.size': 299 },
    });
    const r3 = index.beginRun({ pipeline: 'small', argv: ['run'], host: 'h2', pid: 13, experiment: 'sizes' });
    index.recordStageRun({
      runId: r1,
      pipeline: 'fashion',
      stage: 'pad',
      stageKey: 'k1',
      action: 'ran',
      status: 'ok',
      start: 1000,
      end: 3500,
      seconds: 2.5,
      host: 'h1',
      metrics: { images: 3 },
      logPath: '/logs/1/pad.log',
      treeHash: 'e'.repeat(64),
    });
    index.recordStageRun({
      runId: r1,
      pipeline: 'fashion',
      stage: 'split',
      stageKey: 'k2',
      action: 'failed',
      status: 'exit 1',
      start: 3500,
      end: 3600,
      seconds: 0.1,
      host: 'h1',
      metrics: {},
      logPath: null,
      error: 'boom',
    });
    index.endRun(r1, 'failed');
    index.recordStageRun({
      runId: r2,
      pipeline: 'fashion',
      stage: 'pad',
      stageKey: 'k1',
      action: 'cached',
      status: 'ok',
      start: 5000,
      end: 5000,
      seconds: 0,
      host: 'h1',
      metrics: {},
      logPath: null,
      treeHash: 'e'.repeat(64),
    });
    index.endRun(r2, 'ok');

    const stages = index.stageRunsOf(r1);
    assert.deepEqual(
      stages.map((s) => [s.stage, s.action, s.status, s.error]),
      [
        ['pad', 'ran', 'ok', null],
        ['split', 'failed', 'exit 1', 'boom'],
      ],
    );
    assert.deepEqual(stages[0]?.metrics, { images: 3 });
    assert.equal(stages[0]?.logPath, '/logs/1/pad.log');

    assert.deepEqual(
      index.listRuns().map((r) => r.id),
      [r3, r2, r1],
    );
    assert.deepEqual(
      index.listRuns({ pipeline: 'fashion' }).map((r) => r.id),
      [r2, r1],
    );
    assert.deepEqual(
      index.listRuns({ experiment: 'sizes' }).map((r) => r.id),
      [r3, r2],
    );
    assert.deepEqual(
      index.listRuns({ limit: 1 }).map((r) => r.id),
      [r3],
    );
    const run2 = index.getRun(r2);
    assert.equal(run2?.status, 'ok');
    assert.deepEqual(run2?.params, { 'pad.size': 299 });
    assert.deepEqual(index.getRun(r1)?.argv, ['run', 'pipelines/fashion.yaml']);
    assert.ok((run2?.endedAt ?? 0) >= (run2?.startedAt ?? Infinity));

    assert.deepEqual(index.treeHashesOfRecentRuns(2), new Set(['e'.repeat(64)]));
    assert.deepEqual(index.treeHashesOfRecentRuns(1), new Set());
    assert.equal(index.closeDanglingRuns(), 1); // r3 was never ended
    assert.equal(index.getRun(r3)?.status, 'interrupted');
  } finally {
    index.close();
  }
});

test('two connections (as two processes would) see each other’s writes through WAL', () => {
  const dir = join(root, 'c6');
  const a = CacheIndex.open(dir);
  const b = CacheIndex.open(dir);
  try {
    a.putOutput(output('shared', 'f'.repeat(64)));
    assert.equal(b.getOutput('shared')?.treeHash, 'f'.repeat(64));
  } finally {
    a.close();
    b.close();
  }
});
