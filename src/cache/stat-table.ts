/**
 * The file hasher's part of the index: stat-cache rows (a file's device, inode, size and mtime
 * with its content hash) and folder rows (a folder's stat digest with its tree hash). Only
 * src/cache/stat-cache.ts reads and writes them.
 */
import type Database from 'better-sqlite3';

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

const SIG = `dev || ':' || ino || ':' || size || ':' || mtime_ns AS sig`;

function prepare(db: Database.Database) {
  return {
    statUnder: db.prepare(`SELECT path, ${SIG}, hash FROM stat_cache WHERE path >= ? AND path < ?`),
    statIn: db.prepare(
      `SELECT path, ${SIG}, hash FROM stat_cache WHERE path >= ? AND path < ? AND instr(substr(path, ?), '/') = 0`,
    ),
    statOne: db.prepare(`SELECT ${SIG}, hash FROM stat_cache WHERE path = ?`),
    statPut: db.prepare(
      'INSERT OR REPLACE INTO stat_cache (path, dev, ino, size, mtime_ns, hash) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    statDeleteOne: db.prepare('DELETE FROM stat_cache WHERE path = ?'),
    statDeleteUnder: db.prepare('DELETE FROM stat_cache WHERE path >= ? AND path < ?'),
    statCount: db.prepare('SELECT count(*) AS n FROM stat_cache'),
    dirUnder: db.prepare('SELECT path, digest, hash FROM dir_cache WHERE path = ? OR (path >= ? AND path < ?)'),
    dirPut: db.prepare('INSERT OR REPLACE INTO dir_cache (path, digest, hash) VALUES (?, ?, ?)'),
    dirDeleteOne: db.prepare('DELETE FROM dir_cache WHERE path = ?'),
    dirDeleteUnder: db.prepare('DELETE FROM dir_cache WHERE path = ? OR (path >= ? AND path < ?)'),
  };
}

type SigRow = { path: string; sig: string; hash: string };

/** Stat and folder rows. All methods are synchronous (better-sqlite3). */
export class StatTable {
  private readonly stmts: ReturnType<typeof prepare>;

  constructor(private readonly db: Database.Database) {
    this.stmts = prepare(db);
  }

  /** Stat-cache entries of every path strictly under folder `dir` (one range query). */
  statEntriesUnder(dir: string): Map<string, StatEntry> {
    const [lo, hi] = prefixRange(dir);
    const out = new Map<string, StatEntry>();
    for (const r of this.stmts.statUnder.iterate(lo, hi) as Iterable<SigRow>) out.set(r.path, { sig: r.sig, hash: r.hash });
    return out;
  }

  /** Stat-cache entries of the files directly in folder `dir` (not deeper). */
  statEntriesIn(dir: string): Map<string, StatEntry> {
    const [lo, hi] = prefixRange(dir);
    const out = new Map<string, StatEntry>();
    for (const r of this.stmts.statIn.iterate(lo, hi, lo.length + 1) as Iterable<SigRow>)
      out.set(r.path, { sig: r.sig, hash: r.hash });
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
    for (const r of this.stmts.dirUnder.iterate(dir, lo, hi) as Iterable<DirRow>)
      out.set(r.path, { digest: r.digest, hash: r.hash });
    return out;
  }

  /**
   * In one transaction: delete file and folder rows of `deletePaths` and of every path
   * (itself and below) in `deletePrefixes`, then write the new file and folder rows.
   */
  writeStatRows(
    put: Iterable<StatRow>,
    deletePaths: Iterable<string> = [],
    deletePrefixes: Iterable<string> = [],
    putDirs: Iterable<DirRow> = [],
  ): void {
    this.db.transaction(() => {
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
    })();
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
