/**
 * Out-of-fold predictions over train (train-head `oof: true`): split's `folds/fold-<i>.jsonl`
 * partition the usable training images; for each fold a head is trained with the same recipe and
 * seed on the other folds' rows (read from the feature shards per batch, like the main fit) and
 * predicts the rows of its own fold. Every training row is predicted exactly once, by a model that
 * never saw it, so ensemble-pso and threshold can fit on thousands of train images instead of the
 * few hundred of validation. Early stopping of the fold models watches validation, as the main
 * fit's does (validation is never an OOF row).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonl } from '../formats/jsonl.js';
import type { FeatureRows } from '../formats/feature-shards.js';
import type { ManifestEntry } from '../formats/manifest.js';
import { err, ok, type Result } from '../result.js';
import type { TF } from './backend.js';
import type { HeadParams } from './head-params.js';
import { predictHead, type LabelledRows } from './head-task.js';
import { trainDenseHead } from './head-training.js';
import type { EpochRecord } from './trainer.js';

/** The folder of split's folds, and a fold's file name. */
export const FOLDS_DIR = 'folds';
export const foldFile = (i: number): string => `fold-${i}.jsonl`;

/** Rows `indices` of `parent`, as rows 0..indices.length-1 (no copy of the features). */
export class RowSubset implements FeatureRows {
  readonly rows: number;
  readonly dim: number;
  constructor(
    private readonly parent: FeatureRows,
    private readonly indices: Int32Array,
  ) {
    this.rows = indices.length;
    this.dim = parent.dim;
  }

  gather(idx: ArrayLike<number>, dst?: Float32Array): Float32Array {
    const mapped = new Int32Array(idx.length);
    for (let i = 0; i < idx.length; i++) mapped[i] = this.indices[idx[i]!]!;
    return this.parent.gather(mapped, dst);
  }

  range(from: number, to: number): Float32Array {
    return this.parent.gather(this.indices.subarray(from, to));
  }

  updateHash(h: { update(data: Uint8Array): unknown }): void {
    this.parent.updateHash(h);
    h.update(new Uint8Array(this.indices.buffer, this.indices.byteOffset, this.indices.byteLength));
  }
}

/** Split's fold of every image id it put in a fold, and the number of folds; undefined when it wrote none. */
export async function readFolds(
  splitDir: string,
): Promise<Result<{ k: number; foldOf: Map<string, number> } | undefined, string>> {
  const dir = join(splitDir, FOLDS_DIR);
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => /^fold-\d+\.jsonl$/.test(f)) : [];
  if (files.length === 0) return ok(undefined);
  const k = files.length;
  const foldOf = new Map<string, number>();
  for (let i = 0; i < k; i++) {
    const file = join(dir, foldFile(i));
    if (!existsSync(file)) return err(`${dir}: ${k} fold files but no ${foldFile(i)}`);
    for await (const e of readJsonl<ManifestEntry>(file)) {
      if (foldOf.has(e.imageId)) return err(`${file}: image ${JSON.stringify(e.imageId)} is in two folds`);
      foldOf.set(e.imageId, i);
    }
  }
  return ok({ k, foldOf });
}

/** Each training row's fold; an error names the rows no fold holds (folds of another split). */
export function foldsOfRows(ids: readonly string[], foldOf: ReadonlyMap<string, number>): Result<Int32Array, string> {
  const out = new Int32Array(ids.length);
  const lost: string[] = [];
  ids.forEach((id, r) => {
    const f = foldOf.get(id);
    if (f === undefined) lost.push(id);
    else out[r] = f;
  });
  if (lost.length > 0)
    return err(
      `${lost.length} of ${ids.length} training rows are in no fold (first: ${JSON.stringify(lost[0])}): are the features and the folds from the same split?`,
    );
  return ok(out);
}

/** Labels of rows `indices` of a rows x L matrix, as a new matrix. */
function pickRows(y: Uint8Array, L: number, indices: Int32Array): Uint8Array {
  const out = new Uint8Array(indices.length * L);
  indices.forEach((r, i) => out.set(y.subarray(r * L, (r + 1) * L), i * L));
  return out;
}

export interface OutOfFoldJob {
  tf: TF;
  p: HeadParams;
  seed: number;
  train: { x: FeatureRows; y: Uint8Array };
  validation: LabelledRows;
  labels: number;
  /** Fold of each training row (foldsOfRows) and the number of folds. */
  folds: Int32Array;
  k: number;
  /** The checkpoint folder of fold model `fold` (created on demand). */
  checkpointDir(fold: number): Promise<string>;
  signal: AbortSignal;
  log(m: string): void;
  onEpoch(fold: number, r: EpochRecord): void;
}

export interface FoldRecord {
  fold: number;
  /** Rows the fold model trained on and rows it predicted. */
  trained: number;
  predicted: number;
  epochs: number;
  best_epoch: number;
  seconds: number;
}

/**
 * Train the K fold models one after another (one in memory at a time) and gather their
 * predictions: row r of the result is predicted by the model that left out row r's fold.
 */
export async function outOfFoldPredictions(
  job: OutOfFoldJob,
): Promise<{ probs: Float32Array; folds: FoldRecord[]; removeCheckpoints: string[] }> {
  const { tf, labels: L } = job;
  const n = job.folds.length;
  const probs = new Float32Array(n * L);
  const records: FoldRecord[] = [];
  const removeCheckpoints: string[] = [];
  for (let f = 0; f < job.k; f++) {
    const held: number[] = [];
    const kept: number[] = [];
    for (let r = 0; r < n; r++) (job.folds[r] === f ? held : kept).push(r);
    if (held.length === 0) continue;
    if (kept.length === 0) throw new Error(`fold ${f} holds every training row: nothing to train its model on`);
    const keptRows = Int32Array.from(kept);
    const y = pickRows(job.train.y, L, keptRows);
    const ckDir = await job.checkpointDir(f);
    removeCheckpoints.push(ckDir);
    const { head, result } = await trainDenseHead({
      tf,
      p: job.p,
      seed: job.seed,
      train: { x: new RowSubset(job.train.x, keptRows), y },
      validation: job.validation,
      images: { y, count: kept.length },
      labels: L,
      checkpointDir: ckDir,
      signal: job.signal,
      log: job.log,
      onEpoch: (r) => job.onEpoch(f, r),
    });
    try {
      const heldRows = Int32Array.from(held);
      const pf = predictHead(tf, head, new RowSubset(job.train.x, heldRows));
      heldRows.forEach((r, i) => probs.set(pf.subarray(i * L, (i + 1) * L), r * L));
    } finally {
      head.dispose();
    }
    records.push({
      fold: f,
      trained: kept.length,
      predicted: held.length,
      epochs: result.history.length,
      best_epoch: result.bestEpoch + 1,
      seconds: result.history.reduce((s, r) => s + r.seconds, 0),
    });
    job.log(
      `out-of-fold ${f + 1}/${job.k}: trained on ${kept.length} rows (${result.history.length} epochs), predicted ${held.length}`,
    );
  }
  return { probs, folds: records, removeCheckpoints };
}
