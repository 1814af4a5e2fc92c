/**
 * The open cache of one tailor invocation: index, object store, hashers. The engine holds the
 * store as the ObjectStore interface (a remote-backed store can stand in for the local folder);
 * `local` is the folder itself, for the tools that manage it (gc, doctor).
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { initHash } from '../cache/hash.js';
import { childPath } from '../cache/safe-path.js';
import { CacheIndex } from '../cache/index-db.js';
import { FileHasher } from '../cache/file-hasher.js';
import { ContentStore, type ObjectStore } from '../cache/content-store.js';
import { CodeFingerprinter } from './code-fingerprint.js';

export class Session {
  /** What the engine reads outputs from and commits them to. */
  store: ObjectStore;

  private constructor(
    readonly cacheDir: string,
    readonly index: CacheIndex,
    readonly hasher: FileHasher,
    readonly local: ContentStore,
    readonly code: CodeFingerprinter,
  ) {
    this.store = local;
  }

  static async open(cacheDir: string): Promise<Session> {
    const dir = resolve(cacheDir);
    mkdirSync(dir, { recursive: true });
    await initHash();
    const index = CacheIndex.open(dir);
    const hasher = new FileHasher(index.stats);
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

  /** The log file of one stage in one run. */
  logPath(runId: number, stage: string): string {
    return join(this.logsDir(), `${runId}-${stage.replace(/[^A-Za-z0-9._@-]/g, '_')}.log`);
  }

  /**
   * Write what is pending and close. What is pending are caches (stat rows, code facts): when they
   * cannot be written (a full disk, a damaged index) they are dropped, and recomputed next time.
   */
  close(): void {
    for (const save of [() => this.hasher.flush(), () => this.code.save()]) {
      try {
        save();
      } catch {
        // a cache that cannot be saved is only recomputed
      }
    }
    this.index.close();
  }
}

/** Cache folder: --cache DIR, else $TAILOR_CACHE, else ./cache. */
export function cacheDirFrom(flag: string | undefined, workdir: string): string {
  return resolve(workdir, flag ?? process.env.TAILOR_CACHE ?? 'cache');
}
