/**
 * The content-addressed store of stage outputs: `objects/<first2>/<treeHash>/`.
 *
 * A stage writes into a fresh folder under `tmp/`; commit() hashes that tree and renames it to
 * its content address in one atomic step, so `objects/` never holds a partial output: a SIGKILL
 * before the rename leaves only a tmp folder (removed later by cleanupTemp), one after it leaves
 * a complete but unreferenced object (removed by gc). Objects are immutable and read-only
 * (seal.ts), and a link in one never leads out of it (output-links.ts); verify() rehashes one
 * through the stat cache, so a file whose bytes were altered (its mtime moves) shows up as corrupt
 * (bytes changed with size and mtime put back are found by `tailor doctor --deep`: deep-check.ts). The ObjectStore interface is the seam for a remote store (S3 API) later.
 */
import { lstatSync, readdirSync, statSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve, sep } from 'node:path';
import type { FileHasher } from './file-hasher.js';
import { HASH_HEX_LENGTH } from './hash.js';
import { contentHash } from './content-hash.js';
import { hostTag, isPidAlive } from './process-info.js';
import { childPath } from './safe-path.js';
import { escapingLink, OutputRejected } from './output-links.js';
import { removeTree, sealDir, sealTree, unsealTree } from './seal.js';

/** What a commit produced. */
export interface CommitResult {
  treeHash: string;
  /** The tree without its top-level metrics.json (src/cache/content-hash.ts). */
  contentHash: string;
  files: number;
  bytes: number;
}

export type VerifyResult = 'ok' | 'missing' | 'corrupt';

/** The operations the engine needs from a store of immutable output folders. */
export interface ObjectStore {
  newTempDir(stage: string): Promise<string>;
  commit(tmpDir: string): Promise<CommitResult>;
  pathOf(treeHash: string): string;
  exists(treeHash: string): boolean;
  verify(treeHash: string): Promise<VerifyResult>;
  remove(treeHash: string): Promise<void>;
  cleanupTemp(): Promise<number>;
  listObjects(): Promise<string[]>;
}

/** Temp folders of other hosts (or of live pids that may be reused) expire after this long. */
export const TEMP_MAX_AGE_MS = 24 * 60 * 60 * 1000;

const TREE_HASH = new RegExp(`^[0-9a-f]{${HASH_HEX_LENGTH}}$`);
/** `<pid>-<hostTag>-<label>-<random>`; hostTag has no `-`, so the fields split unambiguously. */
const TEMP_NAME = /^(\d+)-([^-]+)-(.*)-([0-9a-f]+)$/;

/** True if `s` looks like a tree hash (also guards every path built from one). */
export function isTreeHash(s: string): boolean {
  return TREE_HASH.test(s);
}

/** The local content store of one cache folder. */
export class ContentStore implements ObjectStore {
  readonly objectsDir: string;
  readonly tmpDir: string;

  /** `hasher` is the invocation's FileHasher (its stat cache makes verify cheap). */
  constructor(
    readonly cacheDir: string,
    readonly hasher: FileHasher,
  ) {
    this.objectsDir = join(resolve(cacheDir), 'objects');
    this.tmpDir = join(resolve(cacheDir), 'tmp');
  }

  /** A new empty folder under `tmp/` for a stage to write its output into. */
  async newTempDir(stage: string): Promise<string> {
    const label = stage.replace(/[^A-Za-z0-9._@-]/g, '_').slice(0, 80) || 'stage';
    const dir = childPath(this.tmpDir, `${process.pid}-${hostTag()}-${label}-${randomBytes(6).toString('hex')}`);
    await mkdir(this.tmpDir, { recursive: true });
    await mkdir(dir);
    return dir;
  }

  /**
   * Move a finished temp folder into the store under its tree hash. If the object already exists
   * and verifies, the temp folder is deleted instead (a corrupt one is replaced). Hard-linked
   * files are fine. The parent folder is fsynced so the rename survives a crash.
   */
  async commit(tmpDir: string): Promise<CommitResult> {
    const dir = resolve(tmpDir);
    if (!dir.startsWith(this.tmpDir + sep)) {
      throw new Error(`internal error: commit of ${dir}, which is not under ${this.tmpDir}`);
    }
    const link = statSync(dir, { throwIfNoEntry: false })?.isDirectory() ? escapingLink(dir) : undefined;
    if (link) throw new OutputRejected(link);
    const tree = await this.hasher.hashTree(dir, { fresh: true });
    if (tree.kind !== 'dir') throw new Error(`internal error: commit of ${dir}, which does not exist`);
    // The entries were just hashed, so this reads no file again.
    const result = { treeHash: tree.hash, contentHash: await contentHash(dir, this.hasher), files: tree.files, bytes: tree.bytes };
    if (await this.adoptExisting(tree.hash)) {
      await this.discard(dir);
      return result;
    }
    const final = this.pathOf(tree.hash);
    await mkdir(dirname(final), { recursive: true });
    // A file where the object's folder belongs is debris (nothing commits files there): clear it.
    if (lstatSync(final, { throwIfNoEntry: false })?.isDirectory() === false) await rm(final, { force: true });
    // Read-only before it is visible under its address (the top folder after the move: moving a
    // folder needs write permission on it).
    sealTree(dir, { keepTop: true });
    try {
      await rename(dir, final);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // Someone committed the same content between our check and the rename.
      if ((code === 'ENOTEMPTY' || code === 'EEXIST') && (await this.verify(tree.hash)) === 'ok') {
        await this.discard(dir);
        return result;
      }
      throw e;
    }
    sealDir(final);
    await fsyncDir(dirname(final));
    this.hasher.rekey(dir, final);
    return result;
  }

  /** Absolute path of an object (whether or not it exists). */
  pathOf(treeHash: string): string {
    if (!isTreeHash(treeHash)) throw new Error(`internal error: not a tree hash: ${JSON.stringify(treeHash)}`);
    return join(this.objectsDir, treeHash.slice(0, 2), treeHash);
  }

  /** True if the object's folder exists (not verified). */
  exists(treeHash: string): boolean {
    return statSync(this.pathOf(treeHash), { throwIfNoEntry: false })?.isDirectory() ?? false;
  }

  /** Rehash an object through the stat cache and compare with its name. */
  async verify(treeHash: string): Promise<VerifyResult> {
    if (!this.exists(treeHash)) return 'missing';
    const h = await this.hasher.hashPath(this.pathOf(treeHash), { fresh: true });
    if (h.kind !== 'dir') return 'missing';
    return h.hash === treeHash ? 'ok' : 'corrupt';
  }

  /** Delete an object: renamed into tmp/ first so it disappears from objects/ atomically. */
  async remove(treeHash: string): Promise<void> {
    const path = this.pathOf(treeHash);
    if (!this.exists(treeHash)) return;
    const trash = await this.newTempDir('trash');
    const target = join(trash, treeHash);
    unsealTree(path); // sealed read-only at commit: moving and deleting it needs write permission
    await rename(path, target);
    this.hasher.forget(path);
    await removeTree(trash);
  }

  /**
   * Remove temp folders whose owner is gone: a dead pid on this host, or older than a day
   * (another host's, or a pid that may have been reused). This process's own are kept.
   * Returns how many were removed.
   */
  async cleanupTemp(): Promise<number> {
    const names = await namesIn(this.tmpDir);
    const myHost = hostTag();
    let removed = 0;
    for (const name of names) {
      const path = join(this.tmpDir, name);
      const m = TEMP_NAME.exec(name);
      const pid = m ? Number(m[1]) : NaN;
      if (m && m[2] === myHost && pid === process.pid) continue;
      const st = await stat(path).catch(() => undefined);
      if (!st) continue;
      const ownerDead = m !== null && m[2] === myHost && !isPidAlive(pid);
      const expired = Date.now() - st.mtimeMs > TEMP_MAX_AGE_MS;
      if (!ownerDead && !expired) continue;
      await this.discard(path);
      removed++;
    }
    return removed;
  }

  /** Tree hashes of the objects on disk. */
  async listObjects(): Promise<string[]> {
    const out: string[] = [];
    for (const shard of await namesIn(this.objectsDir)) {
      if (!/^[0-9a-f]{2}$/.test(shard)) continue;
      for (const name of await namesIn(join(this.objectsDir, shard))) {
        if (isTreeHash(name) && name.startsWith(shard)) out.push(name);
      }
    }
    return out.sort();
  }

  /** Bytes removing an object would free: sizes of its files not hard-linked elsewhere. */
  freeableBytes(treeHash: string): number {
    return freeableBytesUnder(this.pathOf(treeHash));
  }

  private async adoptExisting(treeHash: string): Promise<boolean> {
    const state = await this.verify(treeHash);
    if (state === 'ok') return true;
    if (state === 'corrupt') await this.remove(treeHash);
    return false;
  }

  private async discard(dir: string): Promise<void> {
    this.hasher.forget(dir);
    await removeTree(dir); // a stage may have copied read-only folders of its inputs into tmp
  }
}

function freeableBytesUnder(dir: string): number {
  let total = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += freeableBytesUnder(p);
    else if (e.isFile()) {
      const st = lstatSync(p, { throwIfNoEntry: false });
      if (st && st.nlink === 1) total += st.size;
    }
  }
  return total;
}

/** Entry names of a folder; none if it does not exist (or cannot be read). */
function namesIn(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}

/** fsync a folder so a rename inside it is durable. */
async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
