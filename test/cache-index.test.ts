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
  index.outputs.putOutput(output('k1', 'a'.repeat(64)));
  index.close();
  index.close(); // idempotent
  const again = CacheIndex.open(dir);
  assert.equal(again.outputs.getOutput('k1')?.treeHash, 'a'.repeat(64));
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
    assert.equal(index.outputs.getOutput('nope'), undefined);
    const rec = output('k1', 'b'.repeat(64));
    index.outputs.putOutput(rec);
    assert.deepEqual(index.outputs.getOutput('k1'), rec);
    assert.throws(() => index.outputs.setLatest('fashion', 'pad', 'unknown-key'), /FOREIGN KEY/);
    index.outputs.setLatest('fashion', 'pad', 'k1');
    assert.deepEqual(index.outputs.getLatest('fashion', 'pad'), rec);
    index.outputs.putOutput(output('k2', 'c'.repeat(64)));
    index.outputs.setLatest('fashion', 'pad', 'k2');
    assert.equal(index.outputs.getLatest('fashion', 'pad')?.stageKey, 'k2');
    assert.deepEqual(index.outputs.latestTreeHashes(), new Set(['c'.repeat(64)]));
    assert.equal(index.outputs.getLatest('other', 'pad'), undefined);
    assert.equal(index.outputs.deleteOutput('k2'), true);
    assert.equal(index.outputs.getLatest('fashion', 'pad'), undefined);
    assert.deepEqual(index.outputs.outputRefs(), [{ stageKey: 'k1', treeHash: 'b'.repeat(64) }]);
    assert.equal(index.outputs.outputsOfTree('b'.repeat(64)).length, 1);
  } finally {
    index.close();
  }
});

test('latestOfPipeline gives the latest output of every stage of one pipeline, in one query', () => {
  const index = CacheIndex.open(join(root, 'c3b'));
  try {
    const pad = output('kp', 'd'.repeat(64), 'pad');
    const split = output('ks', 'e'.repeat(64), 'split');
    index.outputs.putOutput(pad);
    index.outputs.putOutput(split);
    index.outputs.setLatest('fashion', 'pad', 'kp');
    index.outputs.setLatest('fashion', 'split', 'ks');
    index.outputs.setLatest('other', 'pad', 'ks');
    const latest = index.outputs.latestOfPipeline('fashion');
    assert.deepEqual([...latest.keys()].sort(), ['pad', 'split']);
    assert.deepEqual(latest.get('pad'), pad);
    assert.deepEqual(latest.get('split'), split);
    assert.deepEqual(
      index.outputs.latestOfPipeline('other').get('pad'),
      split,
      "keyed by the pointer, not the output's own stage",
    );
    assert.equal(index.outputs.latestOfPipeline('none').size, 0);
  } finally {
    index.close();
  }
});

test('transaction commits together or not at all', () => {
  const index = CacheIndex.open(join(root, 'c4'));
  try {
    const runId = index.runs.beginRun({ pipeline: 'fashion', argv: ['run'], host: 'h', pid: 1 });
    assert.throws(() =>
      index.transaction(() => {
        index.outputs.putOutput(output('k1', 'd'.repeat(64)));
        index.outputs.setLatest('fashion', 'pad', 'k1');
        throw new Error('crash between writes');
      }),
    );
    assert.equal(index.outputs.getOutput('k1'), undefined);
    const value = index.transaction(() => {
      index.outputs.putOutput(output('k1', 'd'.repeat(64)));
      index.outputs.setLatest('fashion', 'pad', 'k1');
      return index.runs.recordStageRun({
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
    assert.equal(index.outputs.getLatest('fashion', 'pad')?.stageKey, 'k1');
  } finally {
    index.close();
  }
});

test('runs and stage runs: history, filters, experiments, dangling runs', () => {
  const index = CacheIndex.open(join(root, 'c5'));
  try {
    const r1 = index.runs.beginRun({
      pipeline: 'fashion',
      argv: ['run', 'pipelines/fashion.yaml'],
      host: 'h1',
      pid: 11,
    });
    const r2 = index.runs.beginRun({
      pipeline: 'fashion',
      argv: ['run'],
      host: 'h1',
      pid: 12,
      experiment: 'sizes',
      params: { 'pad.size': 299 },
    });
    const r3 = index.runs.beginRun({ pipeline: 'small', argv: ['run'], host: 'h2', pid: 13, experiment: 'sizes' });
    index.runs.recordStageRun({
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
    index.runs.recordStageRun({
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
    index.runs.endRun(r1, 'failed');
    index.runs.recordStageRun({
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
    index.runs.endRun(r2, 'ok');

    const stages = index.runs.stageRunsOf(r1);
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
      index.runs.listRuns().map((r) => r.id),
      [r3, r2, r1],
    );
    assert.deepEqual(
      index.runs.listRuns({ pipeline: 'fashion' }).map((r) => r.id),
      [r2, r1],
    );
    assert.deepEqual(
      index.runs.listRuns({ experiment: 'sizes' }).map((r) => r.id),
      [r3, r2],
    );
    assert.deepEqual(
      index.runs.listRuns({ limit: 1 }).map((r) => r.id),
      [r3],
    );
    const run2 = index.runs.getRun(r2);
    assert.equal(run2?.status, 'ok');
    assert.deepEqual(run2?.params, { 'pad.size': 299 });
    assert.deepEqual(index.runs.getRun(r1)?.argv, ['run', 'pipelines/fashion.yaml']);
    assert.ok((run2?.endedAt ?? 0) >= (run2?.startedAt ?? Infinity));

    assert.deepEqual(index.runs.treeHashesOfRecentRuns(2), new Set(['e'.repeat(64)]));
    assert.deepEqual(index.runs.treeHashesOfRecentRuns(1), new Set());
    assert.equal(index.runs.closeDanglingRuns(), 1); // r3 was never ended
    assert.equal(index.runs.getRun(r3)?.status, 'interrupted');
  } finally {
    index.close();
  }
});

test('two connections (as two processes would) see each other’s writes through WAL', () => {
  const dir = join(root, 'c6');
  const a = CacheIndex.open(dir);
  const b = CacheIndex.open(dir);
  try {
    a.outputs.putOutput(output('shared', 'f'.repeat(64)));
    assert.equal(b.outputs.getOutput('shared')?.treeHash, 'f'.repeat(64));
  } finally {
    a.close();
    b.close();
  }
});
