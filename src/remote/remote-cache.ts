/**
 * The remote cache as a library: lookup, restore and publish of stage outputs by key, between a
 * local cache (LocalCache) and a RemoteStore. The CLI's push/pull and, through TieredCache, the
 * engine call these; nothing here prints.
 *
 * Every remote problem in restore is a value: a missing, partial or corrupt record, manifest or
 * blob is a 'miss' (the stage runs), a transport failure after retries is an 'error' (the engine
 * treats it as a miss too, and says so). Nothing is registered locally before the restored folder
 * has been committed and its tree hash checked against the record.
 */
import { join } from 'node:path';
import { contentHash as contentHashOf } from '../cache/content-hash.js';
import { readOutputMetrics } from '../cache/output-metrics.js';
import { err, ok, type Result } from '../result.js';
import { BlobFetcher } from './blob-fetcher.js';
import { BlobPresence } from './blob-presence.js';
import { manifestKey, recordKey } from './layout.js';
import type { LocalCache, OutputRecord } from './local-cache.js';
import { openRemote } from './open-remote.js';
import { publishOutput, type PublishOutcome } from './publish.js';
import { parseRecord, type RemoteRecord } from './remote-record.js';
import { RemoteError, type RemoteStore } from './remote-store.js';
import { restoreTree } from './restore-tree.js';
import { TransferMeter, type TransferListener } from './transfer-meter.js';
import { parseManifest } from './tree-manifest.js';

export interface RemoteCacheOptions {
  /** Transfers at once (default 8). */
  concurrency?: number;
  onEvent?: TransferListener;
  signal?: AbortSignal;
}

/** Where a restored output is registered: the pipeline and stage asking for it. */
export interface RestoreTarget {
  pipeline: string;
  stage: string;
  /** Also point the stage's latest output at it (pull does; the engine records that itself). */
  setLatest?: boolean;
}

export type RestoreOutcome =
  | { kind: 'restored'; record: OutputRecord; objects: number; bytes: number; seconds: number }
  /** The local cache had it already: nothing moved (it is registered for the target if it was not). */
  | { kind: 'present'; record: OutputRecord }
  | { kind: 'miss'; reason: string }
  | { kind: 'error'; message: string };

export class RemoteCache {
  private fetcher: BlobFetcher | undefined;
  private readonly presence: BlobPresence;
  private readonly concurrency: number;
  private readonly emit: TransferListener;

  constructor(
    readonly remote: RemoteStore,
    readonly local: LocalCache,
    private readonly opts: RemoteCacheOptions = {},
  ) {
    this.concurrency = opts.concurrency ?? 8;
    this.emit = opts.onEvent ?? (() => undefined);
    this.presence = new BlobPresence(remote, this.concurrency);
  }

  /** Open the remote a URL names over a local cache. */
  static async open(
    url: string,
    local: LocalCache,
    opts: RemoteCacheOptions = {},
  ): Promise<Result<RemoteCache, string>> {
    const remote = await openRemote(url);
    return remote.ok ? ok(new RemoteCache(remote.value, local, opts)) : remote;
  }

  /**
   * The remote's record for a key, if it has a valid one whose manifest exists; undefined
   * otherwise (also for a corrupt record). Transport failures throw RemoteError.
   */
  async lookup(stageKey: string): Promise<RemoteRecord | undefined> {
    const found = await this.find(stageKey);
    if (!found.ok) return undefined;
    const { recordBytes: _size, ...rec } = found.value;
    return rec;
  }

  /** Make a key's output local: restored from the remote, verified, committed and registered. */
  async restore(stageKey: string, target: RestoreTarget): Promise<RestoreOutcome> {
    const here = this.local.presentOutput(stageKey);
    if (here && (await this.local.store.verify(here.treeHash)) === 'ok') {
      if (target.setLatest) this.local.setLatest(target.pipeline, target.stage, stageKey);
      return { kind: 'present', record: here };
    }
    try {
      return await this.download(stageKey, target);
    } catch (e) {
      if (e instanceof RemoteError) return { kind: 'error', message: e.message };
      throw e;
    }
  }

  /** Upload a key's local output and its record (see publish.ts). Transport failures throw RemoteError. */
  publish(stageKey: string, label = stageKey.slice(0, 12)): Promise<PublishOutcome> {
    return publishOutput(
      {
        remote: this.remote,
        local: this.local,
        concurrency: this.concurrency,
        emit: this.emit,
        presence: this.presence,
        signal: this.opts.signal,
      },
      stageKey,
      label,
    );
  }

  /** Finish: drop downloaded blob copies, close connections. */
  async close(): Promise<void> {
    await this.fetcher?.close();
    this.remote.close();
  }

  private async find(stageKey: string): Promise<Result<RemoteRecord & { recordBytes: number }, string>> {
    const bytes = await this.remote.read(recordKey(stageKey), this.opts.signal);
    if (!bytes) return err('not on the remote');
    const rec = parseRecord(bytes, stageKey);
    if (!rec.ok) return err(`remote record is unusable: ${rec.error}`);
    if (!(await this.remote.head(manifestKey(rec.value.treeHash))))
      return err('remote record names a missing tree manifest');
    return ok({ ...rec.value, recordBytes: bytes.length });
  }

  private async download(stageKey: string, target: RestoreTarget): Promise<RestoreOutcome> {
    const found = await this.find(stageKey);
    if (!found.ok) return { kind: 'miss', reason: found.error };
    const rec = found.value;
    const manifestBytes = await this.remote.read(manifestKey(rec.treeHash), this.opts.signal);
    if (!manifestBytes) return { kind: 'miss', reason: 'remote tree manifest is missing' };
    const manifest = parseManifest(manifestBytes, rec.treeHash);
    if (!manifest.ok) return { kind: 'miss', reason: `remote tree manifest is unusable: ${manifest.error}` };

    const store = this.local.store;
    // The record and the manifest count as moved objects, as they do for a push.
    let objects = 2;
    let moved = rec.recordBytes + manifestBytes.length;
    let seconds = 0;
    let contentHash: string;
    if ((await store.verify(rec.treeHash)) === 'ok') {
      // Another key's output had the same bytes: nothing to download.
      contentHash = await contentHashOf(store.pathOf(rec.treeHash), this.local.hasher);
    } else {
      const fetcher = await this.blobFetcher();
      const blobs = new Map<string, number>();
      for (const e of manifest.value.entries) if (e.kind === 'file') blobs.set(e.hash, e.size);
      const total = [...blobs.values()].reduce((a, b) => a + b, 0);
      const meta = rec.recordBytes + manifestBytes.length;
      const meter = new TransferMeter(
        { direction: 'pull', stage: target.stage, objects: blobs.size + 2, bytes: total + meta },
        this.emit,
      );
      meter.addBytes(meta);
      meter.objectDone();
      meter.objectDone();
      const restored = await restoreTree(store, fetcher, manifest.value, {
        concurrency: this.concurrency,
        label: target.stage,
        signal: this.opts.signal,
        onBytes: (n) => meter.addBytes(n),
        onObject: () => meter.objectDone(),
        onRetry: (what, attempt, message) =>
          this.emit({ type: 'transfer-retry', stage: target.stage, what, attempt, message }),
      });
      seconds = meter.finish();
      if (!restored.ok) {
        const { kind, message } = restored.error;
        return kind === 'error' ? { kind: 'error', message } : { kind: 'miss', reason: message };
      }
      objects += blobs.size;
      moved += total;
      contentHash = restored.value.contentHash;
    }
    if (contentHash !== rec.contentHash)
      return { kind: 'miss', reason: "restored output does not match the record's content hash" };
    const record: OutputRecord = {
      stageKey,
      treeHash: rec.treeHash,
      contentHash,
      pipeline: target.pipeline,
      stage: target.stage,
      ingredients: rec.ingredients,
      // From the restored (hash-checked) metrics.json, as the engine records a fresh run.
      metrics: await readOutputMetrics(store.pathOf(rec.treeHash)),
      createdAt: rec.createdAt,
      seconds: rec.seconds,
    };
    this.local.register(record, target.setLatest ? target : undefined);
    return { kind: 'restored', record, objects, bytes: moved, seconds };
  }

  private async blobFetcher(): Promise<BlobFetcher> {
    if (!this.fetcher) {
      this.fetcher = new BlobFetcher(this.remote, join(this.local.cacheDir, 'remote-partial'));
      await this.fetcher.open();
    }
    return this.fetcher;
  }
}
