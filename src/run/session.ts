/** The open cache of one tailor invocation: index, content store, hashers. */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { initHash } from '../cache/hash.js';
import { childPath } from '../cache/safe-path.js';
import { CacheIndex } from '../cache/index-db.js';
import { FileHasher } from '../cache/file-hasher.js';
import { ContentStore } from '../cache/content-store.js';
import { CodeFingerprinter } from './code-fingerprint.js';

export class Session {
  private constructor(
    readonly cacheDir: string,
    readonly index: CacheIndex,
    readonly hasher: FileHasher,
    readonly store: ContentStore,
    readonly code: CodeFingerprinter,
  ) {}

  static async open(cacheDir: string): Promise<Session> {
    const dir = resolve(cacheDir);
    mkdirSync(dir, { recursive: true });
    await initHash();
    const index = CacheIndex.open(dir);
    const hasher = new FileHasher(index);
    const store = new ContentStore(dir, hasher);
    const code = new CodeFingerprinter(join(dir, 'code-facts.json'));
    return new Session(dir, index, hasher, store, code);
  }

  /** Folder for per-stage persistent state (item-level incremental stages). */
  stateDir(stage: string): string {
    // harden-input: a name can never make a path outside state/ (`..` is refused by the loader too).
    return childPath(join(this.cacheDir, 'state'), stage.replace(/[^A-Za-z0-9._@-]/g, '_'));
  }

  logsDir(): string {
    return join(this.cacheDir, 'logs');
  }

  close(): void {
    this.hasher.flush();
    this.code.save();
    this.index.close();
  }
}

/** Cache folder: --cache DIR, else $TAILOR_CACHE, else ./cache. */
export function cacheDirFrom(flag: string | undefined, workdir: string): string {
  return resolve(workdir, flag ?? process.env.TAILOR_CACHE ?? 'cache');
}
