/**
 * The stat cache: a file's (device, inode, size, mtime_ns) → content hash, persisted in the
 * index so an unchanged file is never read again.
 *
 * Trust model (same as git's index): a file whose bytes change while its size and mtime are put
 * back (e.g. with `touch -d`) keeps its old hash. To close the one honest hole — a file
 * rewritten within the file system's timestamp tick right after being hashed keeps its mtime —
 * a row is only persisted when the file's mtime is at least RACY_WINDOW_MS older than the moment
 * hashing began (git calls these "racily clean" entries). Such fresh files are simply read again
 * next time.
 */
import type { BigIntStats } from 'node:fs';
import type { CacheIndex, StatEntry, StatRow } from './index-db.js';

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
  private readonly deletes = new Set<string>();
  private readonly prefixDeletes = new Set<string>();

  /** Without an index nothing is persisted: rows live until flush() and are then dropped. */
  constructor(private readonly index: CacheIndex | undefined) {}

  /** Persisted entries strictly under `dir`, loaded in one query (pending ones are separate). */
  loadUnder(dir: string): Map<string, StatEntry> {
    return this.index?.statEntriesUnder(dir) ?? new Map();
  }

  /** Entry of one path: a pending write wins over the persisted row. */
  lookup(path: string): StatEntry | undefined {
    return this.pending.get(path)?.entry ?? this.index?.statEntry(path);
  }

  /** Pending (not yet flushed) entry of a path. */
  pendingEntry(path: string): StatEntry | undefined {
    return this.pending.get(path)?.entry;
  }

  /** Remember a hash for a stat; skipped for racily fresh files (see module comment). */
  record(path: string, st: BigIntStats, hash: string, trustBefore: bigint): void {
    if (st.mtimeNs >= trustBefore) return;
    this.deletes.delete(path);
    this.pending.set(path, {
      row: { path, dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, hash },
      entry: { sig: statSignature(st), hash },
    });
  }

  /** Forget one path's row (the file is gone or is no longer a file). */
  drop(path: string): void {
    this.pending.delete(path);
    this.deletes.add(path);
  }

  /** Forget every row under folder `dir` (it was deleted). */
  forget(dir: string): void {
    for (const p of this.pendingUnder(dir)) this.pending.delete(p);
    this.prefixDeletes.add(dir);
  }

  /**
   * Folder `from` was renamed to `to`: move its pending rows (inode and mtime survive a rename)
   * and drop any persisted under the old name.
   */
  rekey(from: string, to: string): void {
    const moved: Pending[] = [];
    for (const p of this.pendingUnder(from)) {
      const item = this.pending.get(p) as Pending;
      this.pending.delete(p);
      const path = to + p.slice(from.length);
      moved.push({ row: { ...item.row, path }, entry: item.entry });
    }
    this.prefixDeletes.add(from);
    for (const m of moved) {
      this.deletes.delete(m.row.path);
      this.pending.set(m.row.path, m);
    }
  }

  /** Number of rows waiting for flush(). */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Write buffered changes in one transaction. */
  flush(): void {
    if (this.pending.size === 0 && this.deletes.size === 0 && this.prefixDeletes.size === 0) return;
    this.index?.writeStatRows(
      [...this.pending.values()].map((p) => p.row),
      this.deletes,
      this.prefixDeletes,
    );
    this.pending.clear();
    this.deletes.clear();
    this.prefixDeletes.clear();
  }

  private pendingUnder(dir: string): string[] {
    const prefix = dir.endsWith('/') ? dir : `${dir}/`;
    return [...this.pending.keys()].filter((p) => p.startsWith(prefix));
  }
}
