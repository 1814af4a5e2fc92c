/**
 * The remote store on a shared folder: `file:///PATH`, e.g. NFS mounted on every node of a
 * cluster. No locks (NFS locking is unreliable): every write goes to a uniquely named temp file
 * beside its target (same folder, so the same file system) and is fsynced, then renamed over the
 * target, which is atomic on POSIX and NFS alike. A reader therefore sees a whole object or none;
 * a writer killed midway leaves only a `.tmp-` file, which listings skip and `sweepIncomplete`
 * (remote gc) removes once it is old.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, type Dirent } from 'node:fs';
import { copyFile, mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { hostTag } from '../cache/process-info.js';
import {
  RemoteError,
  type PutSource,
  type RangeSource,
  type RemoteCounters,
  type RemoteObjectInfo,
  type RemoteStore,
  type TransferHooks,
} from './remote-store.js';

const TEMP_MARK = '.tmp-';

export class FolderStore implements RemoteStore {
  /** Local file calls are not retried; the counters stay at zero except for requests. */
  readonly counters: RemoteCounters = { requests: 0, retries: 0 };

  constructor(
    readonly url: string,
    private readonly root: string,
  ) {}

  async put(key: string, source: PutSource, hooks: TransferHooks = {}): Promise<void> {
    const dest = this.pathOf(key);
    const tmp = join(
      dirname(dest),
      `${TEMP_MARK}${basename(dest)}-${hostTag()}-${process.pid}-${randomBytes(4).toString('hex')}`,
    );
    try {
      await mkdir(dirname(dest), { recursive: true });
      let bytes: number;
      if ('bytes' in source) {
        await writeDurably(tmp, source.bytes);
        bytes = source.bytes.byteLength;
      } else if ('file' in source) {
        await copyFile(source.file, tmp);
        await syncFile(tmp);
        bytes = (await stat(tmp)).size;
      } else {
        await pipeline(source.stream(), createWriteStream(tmp), { signal: hooks.signal });
        await syncFile(tmp);
        bytes = (await stat(tmp)).size;
      }
      hooks.signal?.throwIfAborted();
      await rename(tmp, dest);
      hooks.onBytes?.(bytes);
    } catch (e) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw this.wrap('write', key, e);
    }
  }

  async openRange(key: string, offset: number, signal?: AbortSignal): Promise<RangeSource | undefined> {
    const path = this.pathOf(key);
    const info = await this.stat(path, key);
    if (!info) return undefined;
    if (offset >= info.size) return { body: Readable.from([]), from: offset };
    return { body: createReadStream(path, { start: offset, signal, highWaterMark: 1 << 20 }), from: offset };
  }

  async read(key: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.pathOf(key));
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw this.wrap('read', key, e);
    }
  }

  async head(key: string): Promise<RemoteObjectInfo | undefined> {
    return this.stat(this.pathOf(key), key);
  }

  async *list(prefix: string): AsyncIterable<RemoteObjectInfo> {
    const cut = prefix.lastIndexOf('/');
    const base = cut < 0 ? '' : prefix.slice(0, cut + 1);
    for await (const info of this.walk(base)) {
      if (info.key.startsWith(prefix) && !basename(info.key).startsWith(TEMP_MARK)) yield info;
    }
  }

  async delete(keys: string[]): Promise<void> {
    for (const key of keys) {
      await unlink(this.pathOf(key)).catch((e: unknown) => {
        if (!isMissing(e)) throw this.wrap('delete', key, e);
      });
    }
  }

  async sweepIncomplete(olderThanMs: number): Promise<number> {
    let removed = 0;
    for await (const info of this.walk('')) {
      if (!basename(info.key).startsWith(TEMP_MARK) || Date.now() - info.modifiedMs < olderThanMs) continue;
      await unlink(join(this.root, info.key)).catch(() => undefined);
      removed++;
    }
    return removed;
  }

  close(): void {
    // Nothing is held open between calls.
  }

  /** Every file under `rel` (a folder key ending in `/`, or '' for the root), temp files included. */
  private async *walk(rel: string): AsyncIterable<RemoteObjectInfo> {
    let entries: Dirent[];
    try {
      entries = await readdir(join(this.root, rel), { withFileTypes: true });
    } catch (e) {
      if (isMissing(e)) return;
      throw this.wrap('list', rel, e);
    }
    for (const e of entries) {
      const key = rel + e.name;
      if (e.isDirectory()) yield* this.walk(`${key}/`);
      else if (e.isFile()) {
        const info = await this.stat(join(this.root, key), key);
        if (info) yield info;
      }
    }
  }

  private async stat(path: string, key: string): Promise<RemoteObjectInfo | undefined> {
    try {
      const st = await stat(path);
      return st.isFile() ? { key, size: st.size, modifiedMs: st.mtimeMs } : undefined;
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw this.wrap('stat', key, e);
    }
  }

  private pathOf(key: string): string {
    if (key.startsWith('/') || key.split('/').some((p) => p === '' || p === '.' || p === '..'))
      throw new Error(`internal error: bad remote key ${JSON.stringify(key)}`);
    return join(this.root, key);
  }

  private wrap(op: string, key: string, e: unknown): Error {
    if ((e as { name?: string }).name === 'AbortError') return e as Error;
    return new RemoteError(`${op} ${this.url} (${key}) failed: ${(e as Error).message}`, key);
  }
}

function isMissing(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

async function writeDurably(path: string, bytes: Uint8Array): Promise<void> {
  const fh = await open(path, 'wx');
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** fsync a file (a read-only descriptor is enough, and copies of read-only objects are read-only). */
async function syncFile(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
