/**
 * The SQLite index of a cache folder (`index.sqlite`): stage outputs by key, the latest output
 * of each pipeline stage, run history, and the stat cache of the file hasher.
 *
 * WAL mode so readers (`tailor status`) never block the writer; a busy timeout so two processes
 * wait for each other instead of failing; the schema is versioned by `PRAGMA user_version` and
 * upgraded by the ordered MIGRATIONS below (append only, never edit a shipped one).
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { adoptLegacyPipelineRows } from './legacy-pipeline-rows.js';

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
  /** Labelled JSON of what the key was made of (for `tailor status` explanations). */
  ingredients: unknown;
  metrics: Record<string, unknown>;
  /** Epoch milliseconds when the output was committed. */
  createdAt: number;
  /** Seconds the stage ran to produce it. */
  seconds: number;
}

export type RunStatus = 'running' | 'ok' | 'failed' | 'interrupted';
export type StageAction = 'ran' | 'cached' | 'failed' | 'skipped';

/** One `tailor run` invocation. */
export interface RunRecord {
  id: number;
  pipeline: string;
  argv: string[];
  host: string;
  pid: number;
  /** Experiment name the run belongs to (for reports), if any. */
  experiment: string | null;
  /** Per-run parameters (e.g. `--set` overrides, vars), as given to beginRun. */
  params: unknown;
  startedAt: number;
  endedAt: number | null;
  status: RunStatus;
}

/** What the runner records for each stage of a run. */
export interface StageRunInput {
  runId: number;
  pipeline: string;
  stage: string;
  stageKey: string;
  action: StageAction;
  /** Outcome in words: 'ok', 'exit 1', 'killed by SIGKILL', 'aborted', ... */
  status: string;
  /** Epoch milliseconds. */
  start: number;
  end: number;
  seconds: number;
  host: string;
  metrics: Record<string, unknown>;
  logPath: string | null;
  treeHash?: string | null;
  /** Error message of a failed stage. */
  error?: string | null;
}

export interface StageRunRecord extends Required<StageRunInput> {
  id: number;
}

/** One row of the stat cache: a file's identity and stat signature, and its content hash. */
export interface StatRow {
  path: string;
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  hash: string;
}

/** A loaded stat-cache row: `sig` is `dev:ino:size:mtime_ns` as signed 64-bit decimals. */
export interface StatEntry {
  sig: string;
  hash: string;
}

/**
 * A folder's cached tree hash, valid while `digest` (the hash of its entries' names, kinds, file
 * stat signatures, link targets and subfolder tree hashes) is unchanged.
 */
export interface DirEntry {
  digest: string;
  hash: string;
}

/** A folder row to write: path, stat digest, tree hash. */
export interface DirRow extends DirEntry {
  path: string;
}

/** Thrown by CacheIndex.open when the cache cannot be used (e.g. made by a newer tailor). */
export class CacheOpenError extends Error {
  override name = 'CacheOpenError';
}

const MIGRATIONS: readonly string[] = [
  // 1: initial schema
  `
  CREATE TABLE outputs (
    stage_key   TEXT PRIMARY KEY,
    tree_hash   TEXT NOT NULL,
    pipeline    TEXT NOT NULL,
    stage       TEXT NOT NULL,
    ingredients TEXT NOT NULL,
    metrics     TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    seconds     REAL NOT NULL
  );
  CREATE INDEX outputs_tree ON outputs(tree_hash);
  CREATE TABLE latest (
    pipeline   TEXT NOT NULL,
    stage      TEXT NOT NULL,
    stage_key  TEXT NOT NULL REFERENCES outputs(stage_key) ON DELETE CASCADE,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (pipeline, stage)
  ) WITHOUT ROWID;
  CREATE INDEX latest_key ON latest(stage_key);
  CREATE TABLE runs (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    pipeline   TEXT NOT NULL,
    argv       TEXT NOT NULL,
    host       TEXT NOT NULL,
    pid        INTEGER NOT NULL,
    experiment TEXT,
    params     TEXT,
    started_at INTEGER NOT NULL,
    ended_at   INTEGER,
    status     TEXT NOT NULL
  );
  CREATE INDEX runs_pipeline ON runs(pipeline, id);
  CREATE INDEX runs_experiment ON runs(experiment, id);
  CREATE TABLE stage_runs (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id    INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    pipeline  TEXT NOT NULL,
    stage     TEXT NOT NULL,
    stage_key TEXT NOT NULL,
    action    TEXT NOT NULL,
    status    TEXT NOT NULL,
    start     INTEGER NOT NULL,
    "end"     INTEGER NOT NULL,
    seconds   REAL NOT NULL,
    host      TEXT NOT NULL,
    metrics   TEXT NOT NULL,
    log_path  TEXT,
    tree_hash TEXT,
    error     TEXT
  );
  CREATE INDEX stage_runs_run ON stage_runs(run_id);
  CREATE INDEX stage_runs_tree ON stage_runs(tree_hash);
  CREATE INDEX stage_runs_stage ON stage_runs(pipeline, stage, id);
  CREATE TABLE stat_cache (
    path     TEXT PRIMARY KEY,
    dev      INTEGER NOT NULL,
    ino      INTEGER NOT NULL,
    size     INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    hash     TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
  // 2: per-folder stat digests, so an unchanged folder needs no per-file rows at all
  `
  CREATE TABLE dir_cache (
    path   TEXT PRIMARY KEY,
    digest TEXT NOT NULL,
    hash   TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
  // 3: outputs carry their content hash (tree hash without metrics.json) for downstream keys
  `ALTER TABLE outputs ADD COLUMN content_hash TEXT;`,
];

/** Schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Folders of a cache; created by CacheIndex.open. */
export const CACHE_SUBDIRS = ['objects', 'tmp', 'state', 'logs'] as const;

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

interface RunRow {
  id: number;
  pipeline: string;
  argv: string;
  host: string;
  pid: number;
  experiment: string | null;
  params: string | null;
  started_at: number;
  ended_at: number | null;
  status: RunStatus;
}

interface StageRunRow {
  id: number;
  run_id: number;
  pipeline: string;
  stage: string;
  stage_key: string;
  action: StageAction;
  status: string;
  start: number;
  end: number;
  seconds: number;
  host: string;
  metrics: string;
  log_path: string | null;
  tree_hash: string | null;
  error: string | null;
}

/** The cache index. One instance per process; all methods are synchronous (better-sqlite3). */
export class CacheIndex {
  /** The cache folder this index belongs to. */
  readonly cacheDir: string;
  private readonly db: Database.Database;
  private readonly stmts: ReturnType<typeof prepare>;
  /** harden-input: pipeline ids whose rows under an old bare name were looked for (legacy-pipeline-rows.ts). */
  private readonly adopted = new Set<string>();

  private constructor(cacheDir: string, db: Database.Database) {
    this.cacheDir = cacheDir;
    this.db = db;
    this.stmts = prepare(db);
  }

  /** Open (creating folders and schema as needed) the index of `cacheDir`. */
  static open(cacheDir: string): CacheIndex {
    mkdirSync(cacheDir, { recursive: true });
    for (const sub of CACHE_SUBDIRS) mkdirSync(join(cacheDir, sub), { recursive: true });
    const file = join(cacheDir, 'index.sqlite');
    let db: Database.Database;
    try {
      db = new Database(file);
    } catch (e) {
      throw new CacheOpenError(`cannot open cache index ${file}: ${(e as Error).message}`);
    }
    try {
      db.pragma('busy_timeout = 10000');
      db.pragma('journal_mode = WAL');
      // NORMAL is corruption-safe in WAL mode; only the very last commit may be lost on power loss.
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      migrate(db, file);
    } catch (e) {
      db.close();
      if (e instanceof CacheOpenError) throw e;
      throw new CacheOpenError(`cannot open cache index ${file}: ${(e as Error).message}`);
    }
    return new CacheIndex(cacheDir, db);
  }

  /** Close the database (idempotent). */
  close(): void {
    if (this.db.open) this.db.close();
  }

  /** Schema version of the open database. */
  get schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  /** Journal mode of the open database ('wal'). */
  get journalMode(): string {
    return this.db.pragma('journal_mode', { simple: true }) as string;
  }

  /**
   * Run `fn` in one transaction (nested calls become savepoints); rolled back if it throws.
   * The runner commits "putOutput + setLatest + recordStageRun" together after the rename.
   */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  // ---- outputs -------------------------------------------------------------------------------

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

  // ---- latest --------------------------------------------------------------------------------

  /** harden-input: once per pipeline id, take over rows an older tailor wrote under its bare name. */
  private adopt(pipeline: string): void {
    if (this.adopted.has(pipeline)) return;
    this.adopted.add(pipeline);
    adoptLegacyPipelineRows(this.db, pipeline);
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

  // ---- runs ----------------------------------------------------------------------------------

  /** Record the start of a run; returns its id. */
  beginRun(run: { pipeline: string; argv: string[]; host: string; pid: number; experiment?: string; params?: unknown }): number {
    this.adopt(run.pipeline);
    const res = this.stmts.beginRun.run({
      pipeline: run.pipeline,
      argv: JSON.stringify(run.argv),
      host: run.host,
      pid: run.pid,
      experiment: run.experiment ?? null,
      params: run.params === undefined ? null : JSON.stringify(run.params),
      started_at: Date.now(),
    });
    return Number(res.lastInsertRowid);
  }

  /** Record the end of a run. */
  endRun(runId: number, status: Exclude<RunStatus, 'running'>): void {
    this.stmts.endRun.run(Date.now(), status, runId);
  }

  /**
   * Mark runs still 'running' as 'interrupted' (their process was killed). Call only while
   * holding the run lock, when no other run can be live. Returns how many were closed.
   */
  closeDanglingRuns(): number {
    return this.stmts.closeDangling.run(Date.now()).changes;
  }

  /** Record what happened to one stage in a run. */
  recordStageRun(r: StageRunInput): number {
    const res = this.stmts.recordStageRun.run({
      run_id: r.runId,
      pipeline: r.pipeline,
      stage: r.stage,
      stage_key: r.stageKey,
      action: r.action,
      status: r.status,
      start: r.start,
      end: r.end,
      seconds: r.seconds,
      host: r.host,
      metrics: JSON.stringify(r.metrics ?? {}),
      log_path: r.logPath,
      tree_hash: r.treeHash ?? null,
      error: r.error ?? null,
    });
    return Number(res.lastInsertRowid);
  }

  /** Runs, newest first, optionally of one pipeline and/or experiment. */
  listRuns(filter: { pipeline?: string; experiment?: string; limit?: number } = {}): RunRecord[] {
    if (filter.pipeline !== undefined) this.adopt(filter.pipeline);
    const rows = this.stmts.listRuns.all({
      pipeline: filter.pipeline ?? null,
      experiment: filter.experiment ?? null,
      limit: filter.limit ?? -1,
    }) as RunRow[];
    return rows.map(toRun);
  }

  /** One run by id. */
  getRun(runId: number): RunRecord | undefined {
    const row = this.stmts.getRun.get(runId) as RunRow | undefined;
    return row && toRun(row);
  }

  /** The stage records of a run, in the order they were recorded. */
  stageRunsOf(runId: number): StageRunRecord[] {
    return (this.stmts.stageRunsOf.all(runId) as StageRunRow[]).map(toStageRun);
  }

  /** Tree hashes referenced by the stage records of the `n` most recent runs. */
  treeHashesOfRecentRuns(n: number): Set<string> {
    if (n <= 0) return new Set();
    const rows = this.stmts.recentRunTrees.all(n) as Array<{ tree_hash: string }>;
    return new Set(rows.map((r) => r.tree_hash));
  }

  // ---- stat cache ----------------------------------------------------------------------------

  /** Stat-cache entries of every path strictly under folder `dir` (one range query). */
  statEntriesUnder(dir: string): Map<string, StatEntry> {
    const [lo, hi] = prefixRange(dir);
    const out = new Map<string, StatEntry>();
    for (const r of this.stmts.statUnder.iterate(lo, hi) as Iterable<{ path: string; sig: string; hash: string }>) {
      out.set(r.path, { sig: r.sig, hash: r.hash });
    }
    return out;
  }

  /** Stat-cache entries of the files directly in folder `dir` (not deeper). */
  statEntriesIn(dir: string): Map<string, StatEntry> {
    const [lo, hi] = prefixRange(dir);
    const out = new Map<string, StatEntry>();
    for (const r of this.stmts.statIn.iterate(lo, hi, lo.length + 1) as Iterable<{ path: string; sig: string; hash: string }>) {
      out.set(r.path, { sig: r.sig, hash: r.hash });
    }
    return out;
  }

  /** Stat-cache entry of one path. */
  statEntry(path: string): StatEntry | undefined {
    return this.stmts.statOne.get(path) as StatEntry | undefined;
  }

  /** Folder rows of `dir` itself and of every folder under it (one range query). */
  dirEntriesUnder(dir: string): Map<string, DirEntry> {
    const [lo, hi] = prefixRange(dir);
    const out = new Map<string, DirEntry>();
    for (const r of this.stmts.dirUnder.iterate(dir, lo, hi) as Iterable<DirRow>) out.set(r.path, { digest: r.digest, hash: r.hash });
    return out;
  }

  /**
   * In one transaction: delete file and folder rows of `deletePaths` and of every path
   * (itself and below) in `deletePrefixes`, then write the new file and folder rows.
   */
  writeStatRows(put: Iterable<StatRow>, deletePaths: Iterable<string> = [], deletePrefixes: Iterable<string> = [], putDirs: Iterable<DirRow> = []): void {
    this.transaction(() => {
      for (const dir of deletePrefixes) {
        const [lo, hi] = prefixRange(dir);
        this.stmts.statDeleteUnder.run(lo, hi);
        this.stmts.dirDeleteUnder.run(dir, lo, hi);
      }
      for (const p of deletePaths) {
        this.stmts.statDeleteOne.run(p);
        this.stmts.dirDeleteOne.run(p);
      }
      for (const r of put) {
        this.stmts.statPut.run(r.path, BigInt.asIntN(64, r.dev), BigInt.asIntN(64, r.ino), r.size, r.mtimeNs, r.hash);
      }
      for (const d of putDirs) this.stmts.dirPut.run(d.path, d.digest, d.hash);
    });
  }

  /** Number of stat-cache rows (for `tailor doctor` and tests). */
  statRowCount(): number {
    return (this.stmts.statCount.get() as { n: number }).n;
  }
}

/** `[lo, hi)` bounds of every path under `dir` in SQLite's byte order ('/' is 0x2F, '0' is 0x30). */
function prefixRange(dir: string): [string, string] {
  const lo = dir.endsWith('/') ? dir : `${dir}/`;
  return [lo, `${lo.slice(0, -1)}0`];
}

function migrate(db: Database.Database, file: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > MIGRATIONS.length) {
    throw new CacheOpenError(
      `cache index ${file} has schema version ${version}, newer than this tailor understands (${MIGRATIONS.length}); upgrade tailor or use another --cache`,
    );
  }
  if (version === MIGRATIONS.length) return;
  // IMMEDIATE: take the write lock before reading the version again, so two processes opening a
  // new cache at once do not both run the same migration.
  db.transaction(() => {
    const current = db.pragma('user_version', { simple: true }) as number;
    for (let v = current; v < MIGRATIONS.length; v++) db.exec(MIGRATIONS[v] as string);
    db.pragma(`user_version = ${MIGRATIONS.length}`);
  }).immediate();
}

function prepare(db: Database.Database) {
  const outputCols = 'o.stage_key, o.tree_hash, o.content_hash, o.pipeline, o.stage, o.ingredients, o.metrics, o.created_at, o.seconds';
  return {
    getOutput: db.prepare(`SELECT ${outputCols} FROM outputs o WHERE o.stage_key = ?`),
    putOutput: db.prepare(
      `INSERT OR REPLACE INTO outputs (stage_key, tree_hash, content_hash, pipeline, stage, ingredients, metrics, created_at, seconds)
       VALUES (@stage_key, @tree_hash, @content_hash, @pipeline, @stage, @ingredients, @metrics, @created_at, @seconds)`,
    ),
    deleteOutput: db.prepare('DELETE FROM outputs WHERE stage_key = ?'),
    outputRefs: db.prepare('SELECT stage_key, tree_hash FROM outputs'),
    outputsOfTree: db.prepare(`SELECT ${outputCols} FROM outputs o WHERE o.tree_hash = ?`),
    deleteOutputsOfTree: db.prepare('DELETE FROM outputs WHERE tree_hash = ?'),
    getLatest: db.prepare(
      `SELECT ${outputCols} FROM latest l JOIN outputs o ON o.stage_key = l.stage_key WHERE l.pipeline = ? AND l.stage = ?`,
    ),
    latestOfPipeline: db.prepare(`SELECT ${outputCols}, l.stage AS stage_latest FROM latest l JOIN outputs o ON o.stage_key = l.stage_key WHERE l.pipeline = ?`),
    setLatest: db.prepare(
      `INSERT INTO latest (pipeline, stage, stage_key, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (pipeline, stage) DO UPDATE SET stage_key = excluded.stage_key, updated_at = excluded.updated_at`,
    ),
    latestTrees: db.prepare('SELECT DISTINCT o.tree_hash FROM latest l JOIN outputs o ON o.stage_key = l.stage_key'),
    beginRun: db.prepare(
      `INSERT INTO runs (pipeline, argv, host, pid, experiment, params, started_at, status)
       VALUES (@pipeline, @argv, @host, @pid, @experiment, @params, @started_at, 'running')`,
    ),
    endRun: db.prepare('UPDATE runs SET ended_at = ?, status = ? WHERE id = ?'),
    closeDangling: db.prepare(`UPDATE runs SET ended_at = ?, status = 'interrupted' WHERE status = 'running'`),
    recordStageRun: db.prepare(
      `INSERT INTO stage_runs (run_id, pipeline, stage, stage_key, action, status, start, "end", seconds, host, metrics, log_path, tree_hash, error)
       VALUES (@run_id, @pipeline, @stage, @stage_key, @action, @status, @start, @end, @seconds, @host, @metrics, @log_path, @tree_hash, @error)`,
    ),
    listRuns: db.prepare(
      `SELECT * FROM runs WHERE (@pipeline IS NULL OR pipeline = @pipeline) AND (@experiment IS NULL OR experiment = @experiment)
       ORDER BY id DESC LIMIT @limit`,
    ),
    getRun: db.prepare('SELECT * FROM runs WHERE id = ?'),
    stageRunsOf: db.prepare('SELECT * FROM stage_runs WHERE run_id = ? ORDER BY id'),
    recentRunTrees: db.prepare(
      `SELECT DISTINCT tree_hash FROM stage_runs
       WHERE tree_hash IS NOT NULL AND run_id IN (SELECT id FROM runs ORDER BY id DESC LIMIT ?)`,
    ),
    statUnder: db.prepare(
      `SELECT path, dev || ':' || ino || ':' || size || ':' || mtime_ns AS sig, hash FROM stat_cache WHERE path >= ? AND path < ?`,
    ),
    statIn: db.prepare(
      `SELECT path, dev || ':' || ino || ':' || size || ':' || mtime_ns AS sig, hash FROM stat_cache
       WHERE path >= ? AND path < ? AND instr(substr(path, ?), '/') = 0`,
    ),
    statOne: db.prepare(`SELECT dev || ':' || ino || ':' || size || ':' || mtime_ns AS sig, hash FROM stat_cache WHERE path = ?`),
    statPut: db.prepare('INSERT OR REPLACE INTO stat_cache (path, dev, ino, size, mtime_ns, hash) VALUES (?, ?, ?, ?, ?, ?)'),
    statDeleteOne: db.prepare('DELETE FROM stat_cache WHERE path = ?'),
    statDeleteUnder: db.prepare('DELETE FROM stat_cache WHERE path >= ? AND path < ?'),
    statCount: db.prepare('SELECT count(*) AS n FROM stat_cache'),
    dirUnder: db.prepare('SELECT path, digest, hash FROM dir_cache WHERE path = ? OR (path >= ? AND path < ?)'),
    dirPut: db.prepare('INSERT OR REPLACE INTO dir_cache (path, digest, hash) VALUES (?, ?, ?)'),
    dirDeleteOne: db.prepare('DELETE FROM dir_cache WHERE path = ?'),
    dirDeleteUnder: db.prepare('DELETE FROM dir_cache WHERE path = ? OR (path >= ? AND path < ?)'),
  };
}

function toOutput(r: OutputRow): OutputRecord {
  return {
    stageKey: r.stage_key,
    treeHash: r.tree_hash,
    contentHash: r.content_hash,
    pipeline: r.pipeline,
    stage: r.stage,
    ingredients: JSON.parse(r.ingredients) as unknown,
    metrics: JSON.parse(r.metrics) as Record<string, unknown>,
    createdAt: r.created_at,
    seconds: r.seconds,
  };
}

function toRun(r: RunRow): RunRecord {
  return {
    id: r.id,
    pipeline: r.pipeline,
    argv: JSON.parse(r.argv) as string[],
    host: r.host,
    pid: r.pid,
    experiment: r.experiment,
    params: r.params === null ? null : (JSON.parse(r.params) as unknown),
    startedAt: r.started_at,
    endedAt: r.ended_at,
    status: r.status,
  };
}

function toStageRun(r: StageRunRow): StageRunRecord {
  return {
    id: r.id,
    runId: r.run_id,
    pipeline: r.pipeline,
    stage: r.stage,
    stageKey: r.stage_key,
    action: r.action,
    status: r.status,
    start: r.start,
    end: r.end,
    seconds: r.seconds,
    host: r.host,
    metrics: JSON.parse(r.metrics) as Record<string, unknown>,
    logPath: r.log_path,
    treeHash: r.tree_hash,
    error: r.error,
  };
}
