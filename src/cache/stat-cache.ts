/**
 * The stat cache: a file's (device, inode, size, mtime_ns) → content hash, and a folder's stat
 * digest → tree hash, persisted in the index so an unchanged file is never read again and an
 * unchanged folder needs no per-file rows loaded.
 *
 * Trust model (same as git's index): a file whose bytes change while its size and mtime are put
 * back (e.g. with `touch -d`) keeps its old hash. To close the one honest hole — a file
 * rewritten within the file system's timestamp tick right after being hashed keeps its mtime —
 * a row is only persisted when the file's mtime is at least RACY_WINDOW_MS older than the moment
 * hashing began (git calls these "racily clean" entries), and a folder row only when every file
 * below it qualified. Such fresh files are simply read again next time.
 */
import type { BigIntStats } from 'node:fs';
import type { DirEntry, DirRow, StatEntry, StatRow, StatTable } from './stat-table.js';

/** Rows for files modified less than this long before hashing began are not persisted. */
export const RACY_WINDOW_MS = 100;

/** The stat signature compared with a cached row: signed 64-bit decimals, as SQLite prints them. */
export function statSignature(st: BigIntStats): string {
  return `${BigInt.asIntN(64, st.dev)}:${BigInt.asIntN(64, st.ino)}:${st.size}:${st.mtimeNs}`;
}

/** The mtime (ns) below which a file stat'ed from now on may be persisted. */
export function trustBeforeNs(now: number = Date.now()): bigint {
  return BigInt(now - RACY_WINDOW_MS) * 1_000_000n;
}

interface Pending {
  row: StatRow;
  entry: StatEntry;
}

/** In-memory view of the stat cache with buffered writes (one transaction per flush). */
export class StatCache {
  private readonly pending = new Map<string, Pending>();
  private readonly pendingDirs = new Map<string, DirEntry>();
  private readonly deletes = new Set<string>();
  private readonly prefixDeletes = new Set<string>();

  /** Without an index nothing is persisted: rows live until flush() and are then dropped. */
  constructor(private readonly index: StatTable | undefined) {}

  /** Persisted folder rows of `dir` and below, in one query (pending ones: pendingDir). */
  loadDirsUnder(dir: string): Map<string, DirEntry> {
    return this.index?.dirEntriesUnder(dir) ?? new Map();
  }

  /** Persisted rows of the files directly in `dir` (pending ones: pendingEntry). */
  loadFilesIn(dir: string): Map<string, StatEntry> {
    return this.index?.statEntriesIn(dir) ?? new Map();
  }

  /** Entry of one file: a pending write wins over the persisted row. */
  lookup(path: string): StatEntry | undefined {
    return this.pending.get(path)?.entry ?? this.index?.statEntry(path);
  }

  /** Pending (not yet flushed) entry of a file. */
  pendingEntry(path: string): StatEntry | undefined {
    return this.pending.get(path)?.entry;
  }

  /** Pending (not yet flushed) row of a folder. */
  pendingDir(path: string): DirEntry | undefined {
    return this.pendingDirs.get(path);
  }

  /** Remember a file's hash for its stat; skipped for racily fresh files (see module comment). */
  record(path: string, st: BigIntStats, hash: string, trustBefore: bigint): void {
    if (st.mtimeNs >= trustBefore) return;
    this.deletes.delete(path);
    this.pending.set(path, {
      row: { path, dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, hash },
      entry: { sig: statSignature(st), hash },
    });
  }

  /** Remember a folder's tree hash for its stat digest (only call when all below it is trusted). */
  recordDir(path: string, digest: string, hash: string): void {
    this.deletes.delete(path);
    this.pendingDirs.set(path, { digest, hash });
  }

  /** Forget one path's row (the file is gone or is no longer a file). */
  drop(path: string): void {
    this.pending.delete(path);
    this.pendingDirs.delete(path);
    this.deletes.add(path);
  }

  /** Forget every row of `dir` and below (it was deleted). */
  forget(dir: string): void {
    for (const p of under(this.pending, dir)) this.pending.delete(p);
    for (const p of under(this.pendingDirs, dir)) this.pendingDirs.delete(p);
    this.prefixDeletes.add(dir);
  }

  /**
   * Folder `from` was renamed to `to`: move its pending rows (inode and mtime survive a rename)
   * and drop any persisted under the old name.
   */
  rekey(from: string, to: string): void {
    const moved = under(this.pending, from).map((p) => {
      const item = this.pending.get(p) as Pending;
      this.pending.delete(p);
      return { row: { ...item.row, path: to + p.slice(from.length) }, entry: item.entry };
    });
    const movedDirs = under(this.pendingDirs, from).map((p) => {
      const item = this.pendingDirs.get(p) as DirEntry;
      this.pendingDirs.delete(p);
      return [to + p.slice(from.length), item] as const;
    });
    this.prefixDeletes.add(from);
    for (const m of moved) {
      this.deletes.delete(m.row.path);
      this.pending.set(m.row.path, m);
    }
    for (const [path, entry] of movedDirs) {
      this.deletes.delete(path);
      this.pendingDirs.set(path, entry);
    }
  }

  /** Number of file and folder rows waiting for flush(). */
  get pendingCount(): number {
    return this.pending.size + this.pendingDirs.size;
  }

  /** Write buffered changes in one transaction (deletions first, then new rows). */
  flush(): void {
    if (this.pendingCount === 0 && this.deletes.size === 0 && this.prefixDeletes.size === 0) return;
    this.index?.writeStatRows(
      [...this.pending.values()].map((p) => p.row),
      this.deletes,
      this.prefixDeletes,
      [...this.pendingDirs].map(([path, e]) => ({ path, ...e }) satisfies DirRow),
    );
    this.pending.clear();
    this.pendingDirs.clear();
    this.deletes.clear();
    this.prefixDeletes.clear();
  }
}

/** Keys of `map` equal to `dir` or below it. */
function under(map: Map<string, unknown>, dir: string): string[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return [...map.keys()].filter((p) => p === dir || p.startsWith(prefix));
}
