import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContentStore } from '../src/cache/content-store.js';
import { FileHasher } from '../src/cache/file-hasher.js';
import { collectGarbage } from '../src/cache/gc.js';
import { CacheIndex } from '../src/cache/index-db.js';

test('gc removes only objects nothing references, with their records; dry run removes nothing', async () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'tailor-gc-'));
  const index = CacheIndex.open(cacheDir);
  try {
    const store = new ContentStore(cacheDir, new FileHasher(index.stats));
    const commit = async (name: string, bytes: number): Promise<string> => {
      const tmp = await store.newTempDir(name);
      writeFileSync(join(tmp, 'out.bin'), name.repeat(bytes).slice(0, bytes));
      return (await store.commit(tmp)).treeHash;
    };
    const record = (stageKey: string, treeHash: string, stage: string): void =>
      index.outputs.putOutput({
        stageKey,
        treeHash,
        pipeline: 'p',
        stage,
        ingredients: {},
        metrics: {},
        createdAt: Date.now(),
        seconds: 1,
      });

    const kept = await commit('kept', 10); // in the caller's keep set (a pipeline or lock file)
    const recent = await commit('recent', 20); // produced by the most recent run
    const latest = await commit('latest', 30); // a pipeline stage's latest output
    const old = await commit('old', 40); // recorded, referenced by nothing now
    const orphan = await commit('orphan', 50); // on disk, unknown to the index
    record('k-kept', kept, 'a');
    record('k-recent', recent, 'b');
    record('k-latest', latest, 'c');
    record('k-old', old, 'd');
    record('k-old-2', old, 'd2');
    record('k-gone', 'f'.repeat(64), 'e'); // record whose object vanished
    index.outputs.setLatest('p', 'c', 'k-latest');
    const oldRun = index.runs.beginRun({ pipeline: 'p', argv: [], host: 'h', pid: 1 });
    index.runs.recordStageRun({
      runId: oldRun,
      pipeline: 'p',
      stage: 'd',
      stageKey: 'k-old',
      action: 'ran',
      status: 'ok',
      start: 0,
      end: 0,
      seconds: 0,
      host: 'h',
      metrics: {},
      logPath: null,
      treeHash: old,
    });
    const run = index.runs.beginRun({ pipeline: 'p', argv: [], host: 'h', pid: 1 });
    index.runs.recordStageRun({
      runId: run,
      pipeline: 'p',
      stage: 'b',
      stageKey: 'k-recent',
      action: 'ran',
      status: 'ok',
      start: 0,
      end: 0,
      seconds: 0,
      host: 'h',
      metrics: {},
      logPath: null,
      treeHash: recent,
    });
    mkdirSync(join(cacheDir, 'state', 'pad'), { recursive: true });
    writeFileSync(join(cacheDir, 'state', 'pad', 'item'), 'x');

    const dry = await collectGarbage(index, store, new Set([kept]), { dryRun: true, keepRecentRuns: 1 });
    assert.deepEqual(dry.removed, [old, orphan].sort());
    assert.equal(dry.removedObjects, 2);
    assert.equal(dry.freedBytes, 90);
    assert.equal(dry.removedRecords, 3);
    assert.ok(store.exists(old) && store.exists(orphan), 'dry run touches nothing');
    assert.ok(index.outputs.getOutput('k-old'));

    const report = await collectGarbage(index, store, new Set([kept]), { keepRecentRuns: 1 });
    assert.deepEqual({ ...report, removedTemp: 0 }, { ...dry, removedTemp: 0 });
    for (const h of [kept, recent, latest]) assert.equal(await store.verify(h), 'ok');
    for (const h of [old, orphan]) assert.equal(store.exists(h), false);
    assert.deepEqual(
      index.outputs
        .outputRefs()
        .map((r) => r.stageKey)
        .sort(),
      ['k-kept', 'k-latest', 'k-recent'],
    );
    assert.ok(existsSync(join(cacheDir, 'state', 'pad', 'item')), 'state/ is left alone');
    assert.equal(index.runs.stageRunsOf(oldRun).length, 1, 'run history is kept');

    // Without recent-run and latest protection only the keep set survives.
    const strict = await collectGarbage(index, store, new Set([kept]), { keepRecentRuns: 0, keepLatest: false });
    assert.deepEqual(strict.removed, [recent, latest].sort());
    assert.equal(index.outputs.getLatest('p', 'c'), undefined);
    assert.deepEqual(await store.listObjects(), [kept]);
  } finally {
    index.close();
    rmSync(cacheDir, { recursive: true, force: true });
  }
});
