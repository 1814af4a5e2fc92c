/**
 * The schema of `index.sqlite`, versioned by `PRAGMA user_version` and upgraded by the ordered
 * MIGRATIONS below (append only, never edit a shipped one: a cache written by an older tailor
 * is upgraded in place, one written by a newer one is refused).
 */
import type Database from 'better-sqlite3';

/** Thrown by CacheIndex.open when the cache cannot be used (e.g. made by a newer tailor). */
export class CacheOpenError extends Error {
  override name = 'CacheOpenError';
  constructor(
    message: string,
    /** True when the file is there but damaged (truncated, overwritten): `doctor --repair-index` helps. */
    readonly damaged = false,
  ) {
    super(message);
  }
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
  // 4: what tailor last wrote to each export target, so a user's edit of one is noticed
  `
  CREATE TABLE exports (
    path       TEXT PRIMARY KEY,
    hash       TEXT NOT NULL,
    pipeline   TEXT NOT NULL,
    stage      TEXT NOT NULL,
    written_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
];

/** Schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Bring an open database to SCHEMA_VERSION; refuse one from a newer tailor. */
export function migrate(db: Database.Database, file: string): void {
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
