/**
 * Push one stage key's output: its tree manifest, the blobs the remote lacks, and last its record.
 *
 * Order matters. The manifest goes first: its fresh write time tells a concurrent remote gc that
 * a push is using those blobs (see remote-gc.ts). The blobs follow; each small file is read and
 * hash-checked before it is sent, so a local file altered on disk is never published under a hash
 * it does not have. The record is written only once everything it names is there, so a push
 * killed at any point leaves nothing a reader would take. Two machines pushing the same key write
 * the same blobs and manifest (same bytes) and equivalent records; when the remote already holds
 * another valid output for the key (a stage that is not bit-reproducible), the first one stays.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { contentHash as contentHashOf } from '../cache/content-hash.js';
import { hashBytes } from '../cache/hash.js';
import { hostName } from '../cache/process-info.js';
import pLimit from 'p-limit';
import type { Ingredients } from '../cache/key-ingredients.js';
import { stageKey as keyOf } from '../run/stage-key.js';
import type { BlobPresence } from './blob-presence.js';
import { blobKey, manifestKey, recordKey } from './layout.js';
import type { LocalCache, OutputRecord } from './local-cache.js';
import { parseRecord, serializeRecord, type RemoteRecord } from './remote-record.js';
import { PART_BYTES, type RemoteStore } from './remote-store.js';
import { TransferMeter, type TransferListener } from './transfer-meter.js';
import { buildManifest, serializeManifest, type TreeManifest } from './tree-manifest.js';

export interface PublishContext {
  remote: RemoteStore;
  local: LocalCache;
  /** Transfers at once (large files go at most 2 at a time, each holding a few parts in memory). */
  concurrency: number;
  emit: TransferListener;
  /** What the remote is known to hold, shared by the stages of one push. */
  presence: BlobPresence;
  signal?: AbortSignal;
}

export type PublishOutcome =
  | { kind: 'pushed'; objects: number; bytes: number; skippedObjects: number; seconds: number }
  | { kind: 'up-to-date'; objects: number }
  | { kind: 'kept-remote'; treeHash: string }
  | { kind: 'no-local'; reason: string };

/** Publish the local output of `stageKey`; remote failures throw RemoteError. */
export async function publishOutput(ctx: PublishContext, stageKey: string, label: string): Promise<PublishOutcome> {
  const rec = ctx.local.output(stageKey);
  if (!rec) return { kind: 'no-local', reason: 'no output recorded for its key' };
  if (keyOf(rec.ingredients as Ingredients) !== stageKey)
    return { kind: 'no-local', reason: 'its recorded ingredients do not hash to its key' };
  const verdict = await ctx.local.store.verify(rec.treeHash);
  if (verdict !== 'ok') return { kind: 'no-local', reason: `its local output is ${verdict}` };
  const dir = ctx.local.store.pathOf(rec.treeHash);
  const manifest = await buildManifest(dir, ctx.local.hasher);
  if (manifest.treeHash !== rec.treeHash) return { kind: 'no-local', reason: 'its local output changed while read' };

  const existing = await readRecord(ctx.remote, stageKey);
  const hasManifest = async (treeHash: string) => (await ctx.remote.head(manifestKey(treeHash))) !== undefined;
  if (existing && existing.treeHash !== rec.treeHash && (await hasManifest(existing.treeHash)))
    return { kind: 'kept-remote', treeHash: existing.treeHash };
  const complete = existing !== undefined && (await hasManifest(rec.treeHash));

  const blobs = new Map<string, { size: number; path: string }>();
  for (const e of manifest.entries) if (e.kind === 'file') blobs.set(e.hash, { size: e.size, path: join(dir, e.path) });
  const present = await ctx.presence.present(new Map([...blobs].map(([hash, b]) => [hash, b.size])));
  const missing = [...blobs].filter(([hash]) => !present.has(hash));
  if (complete && missing.length === 0) return { kind: 'up-to-date', objects: blobs.size };

  const manifestBytes = serializeManifest(manifest);
  const record = toRemote(rec, manifest, rec.contentHash ?? (await contentHashOf(dir, ctx.local.hasher)));
  const recordBytes = serializeRecord(record);
  const total = missing.reduce((t, [, b]) => t + b.size, 0) + manifestBytes.length + recordBytes.length;
  const meter = new TransferMeter(
    { direction: 'push', stage: label, objects: missing.length + 2, bytes: total },
    ctx.emit,
  );
  const hooks = {
    signal: ctx.signal,
    onBytes: (n: number) => meter.addBytes(n),
    onRetry: (message: string) =>
      ctx.emit({ type: 'transfer-retry', stage: label, what: 'upload', attempt: 1, message }),
  };
  await ctx.remote.put(manifestKey(manifest.treeHash), { bytes: manifestBytes }, hooks);
  meter.objectDone();
  const small = pLimit(Math.max(1, ctx.concurrency));
  const large = pLimit(2);
  await Promise.all(
    missing.map(([hash, blob]) =>
      (blob.size > PART_BYTES ? large : small)(async () => {
        await uploadBlob(ctx.remote, hash, blob, hooks);
        ctx.presence.uploaded(hash, blob.size);
        meter.objectDone();
      }),
    ),
  );
  await ctx.remote.put(recordKey(stageKey), { bytes: recordBytes }, hooks);
  meter.objectDone();
  const seconds = meter.finish();
  return { kind: 'pushed', objects: missing.length + 2, bytes: total, skippedObjects: present.size, seconds };
}

/** A remote record that parses and checks, else undefined (a corrupt one is overwritten). */
export async function readRecord(
  remote: RemoteStore,
  stageKey: string,
  signal?: AbortSignal,
): Promise<RemoteRecord | undefined> {
  const bytes = await remote.read(recordKey(stageKey), signal);
  if (!bytes) return undefined;
  const parsed = parseRecord(bytes, stageKey);
  return parsed.ok ? parsed.value : undefined;
}

async function uploadBlob(
  remote: RemoteStore,
  hash: string,
  blob: { size: number; path: string },
  hooks: { signal?: AbortSignal; onBytes: (n: number) => void; onRetry: (m: string) => void },
): Promise<void> {
  if (blob.size > PART_BYTES) {
    // Large files stream from the object, which was verified through the stat cache just before.
    return remote.put(blobKey(hash), { file: blob.path }, hooks);
  }
  const bytes = await readFile(blob.path);
  if (hashBytes(bytes) !== hash) throw new Error(`${blob.path} no longer matches its hash; not pushing it`);
  return remote.put(blobKey(hash), { bytes }, hooks);
}

function toRemote(rec: OutputRecord, manifest: TreeManifest, contentHash: string): RemoteRecord {
  return {
    stageKey: rec.stageKey,
    treeHash: rec.treeHash,
    contentHash,
    pipeline: rec.pipeline,
    stage: rec.stage,
    ingredients: rec.ingredients,
    metrics: rec.metrics,
    createdAt: rec.createdAt,
    seconds: rec.seconds,
    files: manifest.files,
    bytes: manifest.bytes,
    pushedAt: Date.now(),
    pushedFrom: hostName(),
  };
}
