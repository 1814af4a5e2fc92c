/**
 * Committing what a stage wrote: check the folder is still a folder, take it into the store
 * (hash, rename, fsync: content-store.ts), and record output, latest pointer and stage run in
 * one index transaction. Right before the rename and again before the transaction the run
 * checks it still holds the cache lock: a run that lost it (paused past the heartbeat, its lock
 * taken over) commits nothing. Any failure removes the temp folder first, so a full disk does
 * not fail the next run too.
 */
import { lstat, rm } from 'node:fs/promises';
import { readOutputMetrics } from '../cache/output-metrics.js';
import type { CommitResult } from '../cache/content-store.js';
import type { Ingredients } from '../cache/key-ingredients.js';
import type { OutputRecord } from '../cache/output-table.js';
import type { StageRunInput } from '../cache/run-history.js';
import { err, ok, type Result } from '../result.js';
import type { Session } from './session.js';
import { removeTree } from '../cache/seal.js';
import { describeError } from './describe-error.js';

export interface CommitRequest {
  session: Session;
  pipeline: string;
  stage: string;
  key: string;
  ingredients: Ingredients;
  /** Seconds the stage ran. */
  seconds: number;
  /** A reason not to commit now (the run lost its lock), checked before the rename and the write. */
  guard(): string | undefined;
  /** The stage-run row to write in the same transaction. */
  runRecord(output: OutputRecord): StageRunInput;
}

/** Commit a temp folder the stage wrote; on any failure the folder is gone afterwards. */
export async function commitFolder(req: CommitRequest, dir: string): Promise<Result<OutputRecord, string>> {
  const st = await lstat(dir).catch(() => undefined);
  if (!st) return err('the stage removed its own output folder (${out}); nothing to commit');
  if (!st.isDirectory()) {
    await rm(dir, { force: true });
    return err(`the stage replaced its output folder (\${out}) with a ${st.isSymbolicLink() ? 'link' : 'file'}`);
  }
  const stop = req.guard();
  if (stop) {
    await removeTree(dir);
    return err(`not committed: ${stop}`);
  }
  let committed: CommitResult;
  try {
    committed = await req.session.store.commit(dir);
  } catch (e) {
    await removeTree(dir).catch(() => undefined); // it may be sealed read-only already
    return err(`cannot commit the output: ${describeError(e)}`);
  }
  return recordCommitted(req, committed.treeHash, committed.contentHash);
}

/** Record an output already in the store (committed here, or by an executor elsewhere). */
export async function recordCommitted(
  req: CommitRequest,
  treeHash: string,
  contentHash: string,
): Promise<Result<OutputRecord, string>> {
  const stop = req.guard();
  if (stop) return err(`not recorded: ${stop}`);
  const output: OutputRecord = {
    stageKey: req.key,
    treeHash,
    contentHash,
    pipeline: req.pipeline,
    stage: req.stage,
    ingredients: req.ingredients,
    metrics: await readOutputMetrics(req.session.store.pathOf(treeHash)),
    createdAt: Date.now(),
    seconds: req.seconds,
  };
  const { index } = req.session;
  index.transaction(() => {
    index.outputs.putOutput(output);
    index.outputs.setLatest(req.pipeline, req.stage, req.key);
    index.runs.recordStageRun(req.runRecord(output));
  });
  return ok(output);
}
