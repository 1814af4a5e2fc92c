/**
 * The engine's part of the index: committed outputs by stage key, the latest output of each
 * pipeline stage (what `status` compares with), and what tailor last wrote to each export target.
 */
import type Database from 'better-sqlite3';
import type { Ingredients } from './key-ingredients.js';

/** One committed stage output, found by its stage key. */
export interface OutputRecord {
  stageKey: string;
  /** Content hash of the output folder (`objects/xx/<treeHash>`). */
  treeHash: string;
  /**
   * Hash of the output without its metrics.json (src/cache/content-hash.ts): what downstream
   * keys are made of. Null only for outputs recorded before schema 3.
   */
  contentHash?: string | null;
  pipeline: string;
  stage: string;
  /** What the key was made of (for `tailor status` explanations). */
  ingredients: Ingredients;
  metrics: Record<string, unknown>;
  /** Epoch milliseconds when the output was committed. */
  createdAt: number;
  /** Seconds the stage ran to produce it. */
  seconds: number;
}

/** What tailor last wrote to an export target (an absolute workspace path). */
export interface ExportRecord {
  path: string;
  /** Content hash of the file as written. */
  hash: string;
  pipeline: string;
  stage: string;
  writtenAt: number;
}

interface OutputRow {
  /** The stage a `latest` pointer names (latestOfPipeline only). */
  stage_latest?: string;
  stage_key: string;
  tree_hash: string;
  content_hash: string | null;
  pipeline: string;
  stage: string;
  ingredients: string;
  metrics: string;
  created_at: number;
  seconds: number;
}

const OUTPUT_COLS =
  'o.stage_key, o.tree_hash, o.content_hash, o.pipeline, o.stage, o.ingredients, o.metrics, o.created_at, o.seconds';

function prepare(db: Database.Database) {
  return {
    getOutput: db.prepare(`SELECT ${OUTPUT_COLS} FROM outputs o WHERE o.stage_key = ?`),
    putOutput: db.prepare(
      `INSERT OR REPLACE INTO outputs (stage_key, tree_hash, content_hash, pipeline, stage, ingredients, metrics, created_at, seconds)
       VALUES (@stage_key, @tree_hash, @content_hash, @pipeline, @stage, @ingredients, @metrics, @created_at, @seconds)`,
    ),
    deleteOutput: db.prepare('DELETE FROM outputs WHERE stage_key = ?'),
    outputRefs: db.prepare('SELECT stage_key, tree_hash FROM outputs'),
    outputsOfTree: db.prepare(`SELECT ${OUTPUT_COLS} FROM outputs o WHERE o.tree_hash = ?`),
    deleteOutputsOfTree: db.prepare('DELETE FROM outputs WHERE tree_hash = ?'),
    getLatest: db.prepare(
      `SELECT ${OUTPUT_COLS} FROM latest l JOIN outputs o ON o.stage_key = l.stage_key WHERE l.pipeline = ? AND l.stage = ?`,
    ),
    latestOfPipeline: db.prepare(
      `SELECT ${OUTPUT_COLS}, l.stage AS stage_latest FROM latest l JOIN outputs o ON o.stage_key = l.stage_key WHERE l.pipeline = ?`,
    ),
    setLatest: db.prepare(
      `INSERT INTO latest (pipeline, stage, stage_key, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (pipeline, stage) DO UPDATE SET stage_key = excluded.stage_key, updated_at = excluded.updated_at`,
    ),
    latestTrees: db.prepare('SELECT DISTINCT o.tree_hash FROM latest l JOIN outputs o ON o.stage_key = l.stage_key'),
    getExport: db.prepare('SELECT path, hash, pipeline, stage, written_at AS writtenAt FROM exports WHERE path = ?'),
    putExport: db.prepare(
      'INSERT OR REPLACE INTO exports (path, hash, pipeline, stage, written_at) VALUES (@path, @hash, @pipeline, @stage, @writtenAt)',
    ),
  };
}

/** Outputs, latest pointers and export records. All methods are synchronous (better-sqlite3). */
export class OutputTable {
  private readonly stmts: ReturnType<typeof prepare>;

  /** `adopt(pipeline)` runs before a pipeline's rows are read or written (legacy-pipeline-rows.ts). */
  constructor(
    db: Database.Database,
    private readonly adopt: (pipeline: string) => void = () => undefined,
  ) {
    this.stmts = prepare(db);
  }

  /** The output recorded for a stage key, if any. */
  getOutput(stageKey: string): OutputRecord | undefined {
    const row = this.stmts.getOutput.get(stageKey) as OutputRow | undefined;
    return row && toOutput(row);
  }

  /** Record (or replace) the output of a stage key. */
  putOutput(rec: OutputRecord): void {
    this.stmts.putOutput.run({
      stage_key: rec.stageKey,
      tree_hash: rec.treeHash,
      content_hash: rec.contentHash ?? null,
      pipeline: rec.pipeline,
      stage: rec.stage,
      ingredients: JSON.stringify(rec.ingredients ?? null),
      metrics: JSON.stringify(rec.metrics ?? {}),
      created_at: rec.createdAt,
      seconds: rec.seconds,
    });
  }

  /** Forget a stage key's output (its `latest` pointers go too). True if a record was deleted. */
  deleteOutput(stageKey: string): boolean {
    return this.stmts.deleteOutput.run(stageKey).changes > 0;
  }

  /** Stage keys and tree hashes of every output record (for gc). */
  outputRefs(): Array<{ stageKey: string; treeHash: string }> {
    return (this.stmts.outputRefs.all() as Array<{ stage_key: string; tree_hash: string }>).map((r) => ({
      stageKey: r.stage_key,
      treeHash: r.tree_hash,
    }));
  }

  /** Output records whose folder is the given tree. */
  outputsOfTree(treeHash: string): OutputRecord[] {
    return (this.stmts.outputsOfTree.all(treeHash) as OutputRow[]).map(toOutput);
  }

  /** Delete every output record of a tree; returns how many were deleted. */
  deleteOutputsOfTree(treeHash: string): number {
    return this.stmts.deleteOutputsOfTree.run(treeHash).changes;
  }

  /** The output a pipeline stage last produced or restored (what `status` compares with). */
  getLatest(pipeline: string, stage: string): OutputRecord | undefined {
    this.adopt(pipeline);
    const row = this.stmts.getLatest.get(pipeline, stage) as OutputRow | undefined;
    return row && toOutput(row);
  }

  /** The latest output of every stage of a pipeline, by stage name, in one query (for planning). */
  latestOfPipeline(pipeline: string): Map<string, OutputRecord> {
    this.adopt(pipeline);
    const rows = this.stmts.latestOfPipeline.all(pipeline) as OutputRow[];
    return new Map(rows.map((r) => [r.stage_latest ?? r.stage, toOutput(r)]));
  }

  /** Point a pipeline stage at an output record (which must exist: putOutput first). */
  setLatest(pipeline: string, stage: string, stageKey: string): void {
    this.adopt(pipeline);
    this.stmts.setLatest.run(pipeline, stage, stageKey, Date.now());
  }

  /** Tree hashes that some pipeline stage's latest pointer references. */
  latestTreeHashes(): Set<string> {
    return new Set((this.stmts.latestTrees.all() as Array<{ tree_hash: string }>).map((r) => r.tree_hash));
  }

  /** What tailor last wrote to an export target, if it ever did. */
  getExport(path: string): ExportRecord | undefined {
    return this.stmts.getExport.get(path) as ExportRecord | undefined;
  }

  /** Remember what tailor just wrote to an export target. */
  putExport(rec: ExportRecord): void {
    this.stmts.putExport.run(rec);
  }
}

function toOutput(r: OutputRow): OutputRecord {
  return {
    stageKey: r.stage_key,
    treeHash: r.tree_hash,
    contentHash: r.content_hash,
    pipeline: r.pipeline,
    stage: r.stage,
    ingredients: JSON.parse(r.ingredients) as Ingredients,
    metrics: JSON.parse(r.metrics) as Record<string, unknown>,
    createdAt: r.created_at,
    seconds: r.seconds,
  };
}
