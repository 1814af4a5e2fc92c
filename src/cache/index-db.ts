/**
 * The SQLite index of a cache folder (`index.sqlite`), split by who uses it: `outputs` (stage
 * outputs by key, latest output of each pipeline stage, export records: the engine), `runs` (run
 * history: exp, report, show, verify) and `stats` (the file hasher's stat cache). The schema and
 * its migrations are in index-schema.ts.
 *
 * WAL mode so readers (`tailor status`) never block the writer; a busy timeout so two processes
 * wait for each other instead of failing.
 */
import Database from 'better-sqlite3';
import { mkdirSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { CacheOpenError, SCHEMA_VERSION, migrate } from './index-schema.js';
import { OutputTable } from './output-table.js';
import { RunHistory } from './run-history.js';
import { StatTable } from './stat-table.js';
import { legacyAdopter } from './legacy-pipeline-rows.js';

export { CacheOpenError, SCHEMA_VERSION };
export type { ExportRecord, OutputRecord } from './output-table.js';
export type { RunRecord, RunStatus, StageRunInput, StageRunRecord } from './run-history.js';
export type { DirEntry, DirRow, StatEntry, StatRow } from './stat-table.js';
export type { StageAction } from '../stage-states.js';

/** Folders of a cache; created by CacheIndex.open. */
export const CACHE_SUBDIRS = ['objects', 'tmp', 'state', 'logs'] as const;

/** The file name of the index inside a cache folder. */
export const INDEX_FILE = 'index.sqlite';

/** SQLite's words for a file that is there but not a sound database. */
function isDamage(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB');
}

/** " (the disk is full)" when the cache's file system has no space left (SQLite says only "disk I/O error"). */
function fullDisk(dir: string): string {
  try {
    return statfsSync(dir).bavail === 0 ? ' (the disk holding the cache is full)' : '';
  } catch {
    return '';
  }
}

/** The cache index. One instance per process; all methods are synchronous (better-sqlite3). */
export class CacheIndex {
  readonly outputs: OutputTable;
  readonly runs: RunHistory;
  readonly stats: StatTable;

  private constructor(
    /** The cache folder this index belongs to. */
    readonly cacheDir: string,
    private readonly db: Database.Database,
  ) {
    // Rows an older tailor wrote under a pipeline's bare name move to its path id on first use.
    const adopt = legacyAdopter(db);
    this.outputs = new OutputTable(db, adopt);
    this.runs = new RunHistory(db, adopt);
    this.stats = new StatTable(db);
  }

  /** Open (creating folders and schema as needed) the index of `cacheDir`. */
  static open(cacheDir: string): CacheIndex {
    mkdirSync(cacheDir, { recursive: true });
    for (const sub of CACHE_SUBDIRS) mkdirSync(join(cacheDir, sub), { recursive: true });
    const file = join(cacheDir, INDEX_FILE);
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
      return new CacheIndex(cacheDir, db);
    } catch (e) {
      db.close();
      if (e instanceof CacheOpenError) throw e;
      throw new CacheOpenError(`cannot open cache index ${file}: ${(e as Error).message}${fullDisk(cacheDir)}`, isDamage(e));
    }
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
}
