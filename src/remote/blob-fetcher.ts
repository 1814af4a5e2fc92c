/**
 * Verified, resumable blob downloads into `<cache>/remote-partial/`.
 *
 * A blob streams into `<hash>.part` (appending, hashed as it goes); a cut connection resumes with a
 * range request from the bytes already there, in this process or, after a kill, in the next pull.
 * Only when the size and the content hash match is it renamed to `<hash>`, from which restores
 * hard-link or copy it into place. A blob that fails its hash is deleted and fetched once more
 * from scratch; failing again, it is reported corrupt (a cache miss, never a registered output).
 * Concurrent requests for one blob share one download. Blobs up to SMALL_BLOB bytes skip all
 * that: one request into memory, checked, handed over as bytes (nothing to resume for them).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createHashStream, hashBytes, hashFile } from '../cache/hash.js';
import { err, ok, type Result } from '../result.js';
import { blobKey } from './layout.js';
import type { RemoteStore } from './remote-store.js';
import { isAbort, withRetries } from './retry.js';

/** Blobs up to this size are fetched in one request into memory. */
export const SMALL_BLOB = 1 << 20;

/** Unfinished downloads older than this are dropped rather than resumed. */
const PARTIAL_MAX_AGE_MS = 24 * 60 * 60 * 1000;

/** Why a blob could not be had: not there, wrong bytes, or the transfer kept failing. */
export interface BlobFailure {
  kind: 'missing' | 'corrupt' | 'error';
  message: string;
}

export interface FetchHooks {
  signal?: AbortSignal;
  onBytes?: (n: number) => void;
  onRetry?: (what: string, attempt: number, message: string) => void;
}

export class BlobFetcher {
  private readonly inflight = new Map<string, Promise<Result<string, BlobFailure>>>();
  private readonly fetched = new Set<string>();
  private readonly linked = new Set<string>();

  constructor(
    private readonly remote: RemoteStore,
    readonly dir: string,
  ) {}

  /** Create the folder and drop stale partial downloads. */
  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      const st = await stat(join(this.dir, name)).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > PARTIAL_MAX_AGE_MS) await rm(join(this.dir, name), { force: true });
    }
  }

  /** A small blob's verified bytes (one request; fetched again once if they do not check out). */
  async fetchSmall(hash: string, size: number, hooks: FetchHooks = {}): Promise<Result<Buffer, BlobFailure>> {
    const what = `blob ${hash.slice(0, 12)}`;
    for (let attempt = 0; attempt < 2; attempt++) {
      let bytes: Buffer | undefined;
      try {
        bytes = await this.remote.read(blobKey(hash), hooks.signal);
      } catch (e) {
        if (isAbort(e)) throw e;
        return err({ kind: 'error', message: (e as Error).message });
      }
      if (!bytes) return err({ kind: 'missing', message: `${what} is missing on the remote` });
      if (bytes.length === size && hashBytes(bytes) === hash) {
        hooks.onBytes?.(size);
        return ok(bytes);
      }
      hooks.onRetry?.(what, attempt + 1, 'downloaded bytes do not match the hash; fetching it again');
    }
    return err({ kind: 'corrupt', message: `${what} on the remote does not match its hash` });
  }

  /** The path of the verified blob (a local file), or why it could not be had. */
  fetch(hash: string, size: number, hooks: FetchHooks = {}): Promise<Result<string, BlobFailure>> {
    let pending = this.inflight.get(hash);
    if (!pending) {
      pending = this.download(hash, size, hooks);
      this.inflight.set(hash, pending);
      void pending.then((r) => {
        if (!r.ok) this.inflight.delete(hash);
      });
    }
    return pending;
  }

  /** True the first time it is asked for a downloaded blob: that caller may hard-link it. */
  claimLink(hash: string): boolean {
    if (this.linked.has(hash)) return false;
    this.linked.add(hash);
    return true;
  }

  /** Delete the verified blobs this fetcher downloaded (their copies are in the store now). */
  async close(): Promise<void> {
    await Promise.allSettled([...this.inflight.values()]);
    for (const hash of this.fetched) await rm(join(this.dir, hash), { force: true });
    this.fetched.clear();
    this.inflight.clear();
  }

  private async download(hash: string, size: number, hooks: FetchHooks): Promise<Result<string, BlobFailure>> {
    const final = join(this.dir, hash);
    const part = `${final}.part`;
    const what = `blob ${hash.slice(0, 12)}`;
    // A verified copy a killed pull left behind is as good as a download (checked again first).
    if ((await stat(final).catch(() => undefined))?.size === size && (await hashFile(final)) === hash) {
      this.fetched.add(hash);
      hooks.onBytes?.(size);
      return ok(final);
    }
    let counted = 0;
    const onBytes = (n: number) => {
      counted += n;
      hooks.onBytes?.(n);
    };
    for (let fresh = 0; fresh < 2; fresh++) {
      let got: string;
      try {
        got = await withRetries((attempt) => this.attempt(hash, part, size, attempt, { ...hooks, onBytes }), {
          signal: hooks.signal,
          retryable: (e) => !(e instanceof CorruptBlob),
          onRetry: (e, attempt) => hooks.onRetry?.(what, attempt + 1, (e as Error).message),
        });
      } catch (e) {
        if (isAbort(e)) throw e;
        if (!(e instanceof CorruptBlob)) return err({ kind: 'error', message: (e as Error).message });
        got = e.message;
      }
      if (got === 'missing') return err({ kind: 'missing', message: `${what} is missing on the remote` });
      if (got === hash) {
        await rename(part, final);
        this.fetched.add(hash);
        return ok(final);
      }
      await rm(part, { force: true });
      onBytes(-counted);
      hooks.onRetry?.(what, fresh + 1, `downloaded bytes do not match the hash (${got}); fetching it again`);
    }
    return err({ kind: 'corrupt', message: `${what} on the remote does not match its hash` });
  }

  /**
   * One attempt: resume `part` from its size, stream the rest through the hash. Resolves with the
   * digest of the whole file ('missing' if the remote has no such object); rejects on a transfer
   * error (the caller retries, resuming from what was written).
   */
  private async attempt(hash: string, part: string, size: number, attempt: number, hooks: FetchHooks): Promise<string> {
    let offset = (await stat(part).catch(() => undefined))?.size ?? 0;
    if (offset > size) {
      await truncate(part, 0);
      offset = 0;
    }
    const src = await this.remote.openRange(blobKey(hash), offset, hooks.signal);
    if (!src) return 'missing';
    if (src.from > offset) throw new CorruptBlob(`the server answered from byte ${src.from}, not ${offset}`);
    if (src.from !== offset) {
      // The server ignored the range and sends everything: start over.
      await truncate(part, src.from);
      offset = src.from;
    }
    const h = createHashStream();
    if (offset > 0) for await (const chunk of createReadStream(part, { end: offset - 1 })) h.update(chunk as Buffer);
    // What an earlier process left counts as done; this process's own earlier attempts are counted.
    if (attempt === 0 && offset > 0) hooks.onBytes?.(offset);
    let written = offset;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        written += chunk.length;
        if (written > size) return done(new CorruptBlob(`longer than its ${size} bytes`));
        h.update(chunk);
        hooks.onBytes?.(chunk.length);
        done(null, chunk);
      },
    });
    await pipeline(src.body, meter, createWriteStream(part, { flags: 'a' }), { signal: hooks.signal });
    if (written < size)
      throw new Error(`blob ${hash.slice(0, 12)}: the transfer ended after ${written} of ${size} bytes`);
    const digest = h.digest();
    if (digest !== hash) throw new CorruptBlob(`hashes to ${digest.slice(0, 12)}`);
    return digest;
  }
}

/** The bytes are wrong (not merely cut short): start the blob over rather than resume it. */
class CorruptBlob extends Error {}
