/**
 * Filling the feature cache: images are offered one by one with their content hash; those the
 * cache already has for this model key are skipped, the rest are batched to the feature pool
 * (started only when the first missing image shows up, so a fully cached rerun starts no worker),
 * and results go to the cache in one transaction per batch. Memory holds at most the batches in
 * flight, whatever the number of images.
 */
import { readFile } from 'node:fs/promises';
import type { FeaturePool } from './feature-pool.js';
import type { BatchResult } from './backbone-runner.js';
import type { FeatureCache } from './feature-cache.js';

export interface FillerOptions {
  cache: FeatureCache;
  /** Cache namespace: the code key, backbone id and whatever else changes the values (flip, node). */
  modelKey: string;
  batchSize: number;
  startPool: () => Promise<FeaturePool>;
  signal?: AbortSignal;
  /** Called after each stored batch with the count of images computed so far. */
  onBatch?: (computed: number) => void;
}

export class FeatureCacheFiller {
  private pool: FeaturePool | undefined;
  private batch: Array<{ hash: string; bytes: Uint8Array }> = [];
  private readonly queued = new Set<string>();
  private readonly running: Array<Promise<void>> = [];
  /** Images whose decode failed, by hash. */
  readonly failed = new Map<string, string>();
  computed = 0;
  reused = 0;
  private error: Error | undefined;

  constructor(private readonly opts: FillerOptions) {}

  /** Offer one image; `bytes` when the caller already read the file. */
  async add(hash: string, path: string, bytes?: Uint8Array): Promise<void> {
    if (this.error) throw this.error;
    this.opts.signal?.throwIfAborted();
    if (this.queued.has(hash) || this.failed.has(hash)) return;
    if (this.opts.cache.has(this.opts.modelKey, hash)) {
      this.reused++;
      return;
    }
    const failure = this.opts.cache.failure(this.opts.modelKey, hash);
    if (failure) {
      this.failed.set(hash, failure);
      return;
    }
    this.queued.add(hash);
    this.batch.push({ hash, bytes: bytes ?? (await readFile(path)) });
    if (this.batch.length >= this.opts.batchSize) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.batch.length === 0) return;
    const items = this.batch;
    this.batch = [];
    this.pool ??= await this.opts.startPool();
    const { result } = await this.pool.submit(items.map((i) => i.bytes));
    const stored = result.then((r) =>
      this.put(
        items.map((i) => i.hash),
        r,
      ),
    );
    const tracked = stored.catch((e: unknown) => {
      this.error ??= e instanceof Error ? e : new Error(String(e));
    });
    this.running.push(tracked);
    // Keep the list short: forget settled promises.
    if (this.running.length > 64) await Promise.all(this.running.splice(0, 32));
  }

  private put(hashes: string[], r: BatchResult): void {
    const items: Array<{ hash: string; values: Float32Array }> = [];
    const failures: Array<{ hash: string; error: string }> = [];
    hashes.forEach((hash, i) => {
      this.queued.delete(hash);
      const err = r.errors[i];
      if (err) {
        this.failed.set(hash, err);
        failures.push({ hash, error: err });
        return;
      }
      // Concatenate this image's rows of every output.
      const parts = r.values.map((v) =>
        v.subarray(i * (v.length / hashes.length), (i + 1) * (v.length / hashes.length)),
      );
      const total = parts.reduce((s, p) => s + p.length, 0);
      const values = new Float32Array(total);
      let off = 0;
      for (const p of parts) {
        values.set(p, off);
        off += p.length;
      }
      items.push({ hash, values });
    });
    this.opts.cache.putMany(this.opts.modelKey, items, failures);
    this.computed += items.length;
    this.opts.onBatch?.(this.computed);
  }

  /** Flush the last partial batch and wait for everything; closes the pool. */
  async finish(): Promise<void> {
    try {
      if (!this.error) await this.flush();
      await Promise.all(this.running);
      if (this.error) throw this.error;
    } finally {
      await this.pool?.close();
    }
  }

  /** Stop the pool without waiting (after an error or abort). */
  async abort(): Promise<void> {
    await this.pool?.close();
  }
}
