/**
 * Hashing workspace files and folders for stage keys and the content store.
 *
 * Files hash to their bytes' hash, looked up in the stat cache first so an unchanged file is
 * only stat'ed. Folders hash to the hash of a Merkle manifest: one line per entry, sorted by name,
 * `f <hash> <name>` for a file, `d <tree hash> <name>` for a folder, `l <hash of the link text>
 * <name>` for a symlink (never followed inside a folder; the top-level path itself is followed).
 * Sockets, FIFOs and devices are left out. Names are JSON strings, so any byte in a name is
 * unambiguous. The manifest format is part of every key: change it only with a new HASH version.
 *
 * Speed: each folder also gets a stat digest — its manifest with file stat signatures in place
 * of file hashes. If the digest matches the folder's row, the cached tree hash stands and none of
 * its file rows are even loaded: an unchanged tree costs one query for its folder rows plus a
 * readdir per folder and an lstat per file. Only a changed folder loads its files' rows (one
 * query) and reads the files whose signature moved. The walk uses synchronous readdir/lstat/read,
 * which on a small machine beats the thread pool several times over for small files, and yields
 * to the event loop every few milliseconds so timers (the run lock's heartbeat) and child-process
 * output keep flowing.
 */
import { lstatSync, readdirSync, readFileSync, readlinkSync, statSync, type BigIntStats, type Dirent } from 'node:fs';
import { resolve } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { hashBytes, hashFile, SMALL_FILE_BYTES } from './hash.js';
import type { DirEntry, StatEntry, StatTable } from './stat-table.js';
import { StatCache, statSignature, trustBeforeNs } from './stat-cache.js';

/** The hash of a path and what it holds. `files`/`bytes` count regular files (1 for a file). */
export interface PathHash {
  hash: string;
  kind: 'file' | 'dir' | 'missing';
  files: number;
  bytes: number;
}

/** Counters of the work a FileHasher did (for benchmarks, tests and `tailor doctor`). */
export interface HashStats {
  /** Files whose bytes were read and hashed. */
  filesRead: number;
  bytesRead: number;
  /** Files answered from the stat cache without reading. */
  cacheHits: number;
  /** Folders walked. */
  dirs: number;
  /** Folders whose manifest had to be rebuilt (their stat digest changed or was unknown). */
  dirsRebuilt: number;
}

/** The PathHash of a path that does not exist. */
export const MISSING: Readonly<PathHash> = Object.freeze({ hash: '', kind: 'missing', files: 0, bytes: 0 });

/** Files up to this size are read in one synchronous call. */
const SMALL = BigInt(SMALL_FILE_BYTES);

/** Milliseconds of synchronous work between yields to the event loop. */
const YIELD_EVERY_MS = 15;

/** State of one top-level folder walk. */
class Walk {
  /** Folders hashed by an earlier call whose rows this walk therefore did not consume. */
  readonly covered: string[] = [];
  private lastYield = performance.now();
  constructor(
    readonly dirs: Map<string, DirEntry>,
    readonly trustBefore: bigint,
  ) {}
  /** True when it is time to let the event loop run. */
  due(): boolean {
    const now = performance.now();
    if (now - this.lastYield < YIELD_EVERY_MS) return false;
    this.lastYield = now;
    return true;
  }
}

/** A folder entry after the stat pass: a finished manifest line, or a file still to hash. */
type Item = { line: string } | { path: string; name: string; st: BigIntStats };

/**
 * Hashes paths through the stat cache. Create one per invocation: results are memoized per
 * instance (each unique path is hashed once; concurrent calls share one promise), so a file
 * changed after it was hashed is not seen again by the same instance (use `{ fresh: true }`).
 */
export class FileHasher {
  readonly stats: HashStats = { filesRead: 0, bytesRead: 0, cacheHits: 0, dirs: 0, dirsRebuilt: 0 };
  private readonly cache: StatCache;
  private readonly memo = new Map<string, Promise<PathHash>>();
  /** Folders holding a file too fresh to trust (their row is not persisted, nor their parents'). */
  private readonly untrusted = new Set<string>();

  /** `index` holds the persistent stat cache; without one every file is read (memo still applies). */
  constructor(index: StatTable | undefined) {
    this.cache = new StatCache(index);
  }

  /**
   * Hash a file or folder (absolute path; a symlink at the top is followed). A path that does not
   * exist gives kind 'missing'. `fresh` forgets memoized results for the path and below first
   * (the stat cache still applies). Rejects on unreadable files (EACCES) and special files.
   */
  hashPath(absPath: string, opts: { fresh?: boolean } = {}): Promise<PathHash> {
    const path = resolve(absPath);
    if (opts.fresh) this.forgetMemo(path);
    let pending = this.memo.get(path);
    if (!pending) {
      pending = this.compute(path);
      this.memo.set(path, pending);
    }
    return pending;
  }

  /** Hash a folder; kind 'missing' if it is absent, an error if it is not a folder. */
  async hashTree(dir: string, opts: { fresh?: boolean } = {}): Promise<PathHash> {
    const h = await this.hashPath(dir, opts);
    if (h.kind === 'file') throw new Error(`${dir}: expected a folder, found a file`);
    return h;
  }

  /** Folder `from` was renamed to `to`: carry its stat-cache rows over, drop memoized results. */
  rekey(from: string, to: string): void {
    const a = resolve(from);
    const b = resolve(to);
    this.forgetMemo(a);
    this.forgetMemo(b);
    this.cache.rekey(a, b);
  }

  /** Folder `dir` was deleted: drop its memoized results and stat-cache rows. */
  forget(dir: string): void {
    const a = resolve(dir);
    this.forgetMemo(a);
    this.cache.forget(a);
  }

  /** Write new stat-cache rows (and deletions) in one transaction. */
  flush(): void {
    this.cache.flush();
  }

  private forgetMemo(path: string): void {
    const prefix = path.endsWith('/') ? path : `${path}/`;
    for (const k of [...this.memo.keys()]) {
      if (k === path || k.startsWith(prefix)) {
        this.memo.delete(k);
        this.untrusted.delete(k);
      }
    }
  }

  private async compute(path: string): Promise<PathHash> {
    const trustBefore = trustBeforeNs();
    const st = statSync(path, { bigint: true, throwIfNoEntry: false });
    if (!st) return MISSING;
    if (st.isFile()) {
      const h = await this.hashFileAt(path, st, this.cache.lookup(path), trustBefore);
      return h === undefined ? MISSING : { hash: h, kind: 'file', files: 1, bytes: Number(st.size) };
    }
    if (!st.isDirectory()) throw new Error(`${path}: not a file or folder`);
    const walk = new Walk(this.cache.loadDirsUnder(path), trustBefore);
    const result = await this.hashDir(path, walk);
    // Folder rows nobody asked for belong to folders that are gone: forget them and all below,
    // except under folders another call hashed (this walk did not visit them).
    for (const p of walk.dirs.keys()) {
      if (!walk.covered.some((c) => p === c || p.startsWith(`${c}/`))) this.cache.forget(p);
    }
    return result;
  }

  private async hashDir(dir: string, walk: Walk): Promise<PathHash> {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (e) {
      if (isGone(e)) return MISSING;
      throw e;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    this.stats.dirs++;

    // Pass 1: stat everything, hash subfolders, build the stat digest.
    const items: Item[] = [];
    const digestLines: string[] = [];
    let files = 0;
    let bytes = 0;
    let ownFiles = 0;
    let trusted = true;
    const base = dir.endsWith('/') ? dir : `${dir}/`;
    for (const e of entries) {
      if (walk.due()) await yieldToLoop();
      const path = base + e.name;
      const name = JSON.stringify(e.name);
      if (e.isDirectory()) {
        const sub = await this.subdir(path, walk);
        if (sub.kind !== 'dir') continue;
        const line = `d ${sub.hash} ${name}`;
        items.push({ line });
        digestLines.push(line);
        files += sub.files;
        bytes += sub.bytes;
        if (this.untrusted.has(path)) trusted = false;
      } else if (e.isFile()) {
        const st = lstatSync(path, { bigint: true, throwIfNoEntry: false });
        if (!st?.isFile()) continue; // vanished or replaced while walking
        items.push({ path, name, st });
        digestLines.push(`f ${statSignature(st)} ${name}`);
        ownFiles++;
        files++;
        bytes += Number(st.size);
        if (st.mtimeNs >= walk.trustBefore) trusted = false;
      } else if (e.isSymbolicLink()) {
        let target: string;
        try {
          target = readlinkSync(path);
        } catch (err) {
          if (isGone(err)) continue;
          throw err;
        }
        const line = `l ${hashBytes(target)} ${name}`;
        items.push({ line });
        digestLines.push(line);
      }
    }
    const digest = hashBytes(digestLines.join('\n'));
    const known = this.cache.pendingDir(dir) ?? walk.dirs.get(dir);
    walk.dirs.delete(dir);
    if (known?.digest === digest) {
      this.stats.cacheHits += ownFiles;
      if (!trusted) this.untrusted.add(dir);
      return { hash: known.hash, kind: 'dir', files, bytes };
    }

    // Pass 2: the folder changed (or is new): hash its files through their own rows.
    this.stats.dirsRebuilt++;
    const rows = this.cache.loadFilesIn(dir);
    const lines: string[] = [];
    for (const item of items) {
      if ('line' in item) {
        lines.push(item.line);
        continue;
      }
      if (walk.due()) await yieldToLoop();
      const entry = this.cache.pendingEntry(item.path) ?? rows.get(item.path);
      rows.delete(item.path);
      const h = await this.hashFileAt(item.path, item.st, entry, walk.trustBefore);
      if (h === undefined) {
        // Deleted between the stat and the read: leave it out, and do not cache this folder.
        trusted = false;
        files--;
        bytes -= Number(item.st.size);
        continue;
      }
      lines.push(`f ${h} ${item.name}`);
    }
    for (const stale of rows.keys()) this.cache.drop(stale); // rows of files that are gone
    const hash = hashBytes(lines.join('\n'));
    if (trusted) this.cache.recordDir(dir, digest, hash);
    else this.untrusted.add(dir);
    return { hash, kind: 'dir', files, bytes };
  }

  /** A nested folder, shared with any other call for the same path. */
  private subdir(path: string, walk: Walk): Promise<PathHash> {
    const known = this.memo.get(path);
    if (known) {
      walk.covered.push(path);
      return known;
    }
    const pending = this.hashDir(path, walk);
    this.memo.set(path, pending);
    return pending;
  }

  /** A file's hash: from the stat cache when the signature matches, else read. Undefined if gone. */
  private async hashFileAt(path: string, st: BigIntStats, entry: StatEntry | undefined, trustBefore: bigint): Promise<string | undefined> {
    if (entry && entry.sig === statSignature(st)) {
      this.stats.cacheHits++;
      return entry.hash;
    }
    let hash: string;
    try {
      hash = st.size <= SMALL ? hashBytes(readFileSync(path)) : await hashFile(path);
    } catch (e) {
      if (isGone(e)) return undefined;
      throw e;
    }
    this.stats.filesRead++;
    this.stats.bytesRead += Number(st.size);
    this.cache.record(path, st, hash, trustBefore);
    return hash;
  }
}

/**
 * Hash a folder with a throwaway FileHasher: through `index`'s stat cache (rows flushed) when
 * given, else by reading every file.
 */
export async function hashTree(dir: string, index?: StatTable): Promise<PathHash> {
  const hasher = new FileHasher(index);
  const h = await hasher.hashTree(dir);
  hasher.flush();
  return h;
}

function isGone(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
