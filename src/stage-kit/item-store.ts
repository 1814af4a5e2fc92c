/**
 * Item files in a stage's persistent state folder: `objects/ab/<key>.<ext>`, named by the hash of
 * their content or of the inputs (and code, `ctx.codeKey`) that made them, written atomically
 * (temp file in `tmp/`, then rename) so a process killed mid-write leaves no half file under a
 * real name. Outputs reference objects through hard links (no copies; a copy
 * only when the output folder is on another file system).
 *
 * The file calls are synchronous on purpose: objects are small, and libuv's thread pool (4 threads)
 * is where sharp decodes and encodes; queueing a write, a rename and a link there per image delays
 * the image work more than the ~0.1 ms these calls take on the main thread.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, linkSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { hashBytes } from '../cache/hash.js';

const SAFE_EXT = /^[a-z0-9]{1,8}$/;
const SAFE_HASH = /^[0-9a-f]{16,128}$/;

export class ItemStore {
  private readonly objects: string;
  private readonly tmp: string;
  private readonly madeDirs = new Set<string>();

  private constructor(root: string) {
    this.objects = join(root, 'objects');
    this.tmp = join(root, 'tmp');
  }

  /** Open (and create) a store under `root`, clearing temp files a killed run left behind. */
  static async open(root: string): Promise<ItemStore> {
    const store = new ItemStore(root);
    await rm(store.tmp, { recursive: true, force: true });
    await mkdir(store.tmp, { recursive: true });
    await mkdir(store.objects, { recursive: true });
    return store;
  }

  /** Path of an object; hash and extension are checked so data never shapes a path freely. */
  pathOf(hash: string, ext: string): string {
    if (!SAFE_HASH.test(hash) || !SAFE_EXT.test(ext)) throw new Error(`internal error: bad object name ${hash}.${ext}`);
    return join(this.objects, hash.slice(0, 2), `${hash}.${ext}`);
  }

  has(hash: string, ext: string): boolean {
    return existsSync(this.pathOf(hash, ext));
  }

  /** Store bytes under their SHA-256; returns the hash. Idempotent. */
  async put(bytes: Uint8Array, ext: string): Promise<string> {
    const hash = hashBytes(bytes);
    await this.putAs(hash, ext, bytes);
    return hash;
  }

  /** Store bytes under a caller-chosen key (a hash of the inputs that produced them). */
  async putAs(key: string, ext: string, bytes: Uint8Array): Promise<void> {
    const dest = this.pathOf(key, ext);
    if (existsSync(dest)) return;
    const dir = join(this.objects, key.slice(0, 2));
    if (!this.madeDirs.has(dir)) {
      mkdirSync(dir, { recursive: true });
      this.madeDirs.add(dir);
    }
    const temp = join(this.tmp, `${process.pid}-${randomBytes(6).toString('hex')}`);
    writeFileSync(temp, bytes);
    renameSync(temp, dest);
  }

  /** Make `dest` the same file as an object (hard link; copy across file systems). */
  async linkTo(hash: string, ext: string, dest: string): Promise<void> {
    const src = this.pathOf(hash, ext);
    try {
      linkSync(src, dest);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return;
      if (code === 'EXDEV' || code === 'EPERM' || code === 'EMLINK') copyFileSync(src, dest);
      else throw e;
    }
  }
}
