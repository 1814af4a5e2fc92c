/**
 * fetch's persistent index (`index.sqlite` in the stage's state folder): for each source key (an
 * http URL, or a local file's path, size and mtime) either the content hash of the stored image
 * or the failure reason, with the code key of the fetch code that judged it. Rows are committed
 * one by one (WAL, no fsync per commit), so a process killed at any moment loses at most the
 * downloads still in flight: a rerun fetches only those.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';

/** What an earlier run learned about one source. */
export type IndexEntry = { run: number; code: string } & (
  { ok: true; hash: string; ext: string } | { ok: false; error: string; transient: boolean }
);

/** Layout of the table (not of what fetch does: entries carry their code key for that). */
const SCHEMA_VERSION = 2;

interface Row {
  hash: string | null;
  ext: string | null;
  error: string | null;
  transient: number;
  run: number;
  code: string;
}

export class FetchIndex {
  private readonly db: Database.Database;
  private readonly getStmt: Database.Statement<[string], Row>;
  private readonly putStmt: Database.Statement<
    [string, string | null, string | null, string | null, number, number, string]
  >;
  private readonly delStmt: Database.Statement<[string]>;

  constructor(stateDir: string) {
    this.db = new Database(join(stateDir, 'index.sqlite'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 10000');
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version !== SCHEMA_VERSION) {
      // An index of another layout is only a cache of work done: start over rather than misread it.
      this.db.exec('DROP TABLE IF EXISTS sources');
      this.db.exec(
        `CREATE TABLE sources (key TEXT PRIMARY KEY, hash TEXT, ext TEXT, error TEXT, transient INTEGER NOT NULL, run INTEGER NOT NULL, code TEXT NOT NULL) WITHOUT ROWID`,
      );
      this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    }
    this.getStmt = this.db.prepare('SELECT hash, ext, error, transient, run, code FROM sources WHERE key = ?');
    this.putStmt = this.db.prepare(
      'INSERT OR REPLACE INTO sources (key, hash, ext, error, transient, run, code) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.delStmt = this.db.prepare('DELETE FROM sources WHERE key = ?');
  }

  get(key: string): IndexEntry | undefined {
    const r = this.getStmt.get(key);
    if (!r) return undefined;
    if (r.hash !== null && r.ext !== null) return { ok: true, hash: r.hash, ext: r.ext, run: r.run, code: r.code };
    return { ok: false, error: r.error ?? 'unknown', transient: r.transient === 1, run: r.run, code: r.code };
  }

  put(key: string, entry: IndexEntry): void {
    if (entry.ok) this.putStmt.run(key, entry.hash, entry.ext, null, 0, entry.run, entry.code);
    else this.putStmt.run(key, null, null, entry.error, entry.transient ? 1 : 0, entry.run, entry.code);
  }

  delete(key: string): void {
    this.delStmt.run(key);
  }

  close(): void {
    this.db.close();
  }
}
