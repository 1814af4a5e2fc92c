/**
 * Garbage collection of a remote cache: drop the records nothing refers to, then the manifests no
 * kept record names, then the blobs no remaining manifest names, in that order, so a record
 * never points at something deleted before it.
 *
 * What is kept: records whose key or output a lock file or a recent local run refers to (the
 * caller's `keepKeys` / `keepTrees`), and anything written within the grace period, since another
 * machine may be pushing right now.
 *
 * The race with a concurrent push, and how it is handled: remote stores offer no locks or
 * reliable conditional writes, so a push can check that a blob exists (and skip it) just before
 * gc deletes it. Two measures narrow it: (1) a push writes its tree manifest first, before
 * checking blobs, and gc lists manifests again after deleting records and manifests and keeps
 * every blob a present manifest names, so a push whose manifest landed before that listing is
 * safe; (2) nothing younger than the grace period is deleted. A push that wrote its manifest
 * after gc's last listing and relied on an old blob gc then deletes ends with a record naming a
 * missing blob: a reader checks every blob, so that is a cache miss (the stage reruns and the
 * next push uploads the blob again), never a wrong output or a failure.
 */
import pLimit from 'p-limit';
import { BLOBS, hashOfKey, RECORDS, TREES } from './layout.js';
import { parseRecord } from './remote-record.js';
import type { RemoteObjectInfo, RemoteStore } from './remote-store.js';
import { parseManifest } from './tree-manifest.js';

export interface RemoteGcOptions {
  /** Stage keys whose records stay (lock files). */
  keepKeys: Set<string>;
  /** Output tree hashes whose records stay (lock files, recent runs, latest outputs). */
  keepTrees: Set<string>;
  /** Anything written more recently than this is kept (in-flight pushes). */
  graceMs: number;
  dryRun?: boolean;
  concurrency?: number;
}

export interface RemoteGcCount {
  removed: number;
  kept: number;
  /** Bytes of the removed objects. */
  bytes: number;
}

export interface RemoteGcReport {
  records: RemoteGcCount;
  manifests: RemoteGcCount;
  blobs: RemoteGcCount;
  /** Interrupted uploads (multipart uploads, temp files) removed. */
  incomplete: number;
}

export async function collectRemoteGarbage(remote: RemoteStore, opts: RemoteGcOptions): Promise<RemoteGcReport> {
  const started = Date.now();
  const young = (o: RemoteObjectInfo) => started - o.modifiedMs < opts.graceMs;
  const limit = pLimit(Math.max(1, opts.concurrency ?? 8));
  const remove = async (keys: string[]) => {
    if (!opts.dryRun && keys.length > 0) await remote.delete(keys);
  };

  // 1. Records: keep the referenced and the young; read each to learn which tree it names.
  const keptTrees = new Set<string>();
  const doomedRecords: RemoteObjectInfo[] = [];
  const records = await listed(remote, RECORDS);
  await Promise.all(
    records.map((o) =>
      limit(async () => {
        const key = hashOfKey(o.key, RECORDS)!;
        const bytes = await remote.read(o.key);
        const rec = bytes ? parseRecord(bytes, key) : undefined;
        const keep =
          young(o) || (rec?.ok === true && (opts.keepKeys.has(key) || opts.keepTrees.has(rec.value.treeHash)));
        if (keep && rec?.ok) keptTrees.add(rec.value.treeHash);
        if (!keep) doomedRecords.push(o);
      }),
    ),
  );
  await remove(doomedRecords.map((o) => o.key));

  // 2. Manifests that no kept record names.
  const manifests = await listed(remote, TREES);
  const doomedManifests = manifests.filter((o) => !young(o) && !keptTrees.has(hashOfKey(o.key, TREES)!));
  await remove(doomedManifests.map((o) => o.key));

  // 3. List the manifests again (a push may have written one since) and keep every blob they name.
  const doomedManifestKeys = new Set(doomedManifests.map((o) => o.key));
  const referenced = new Set<string>();
  const present = (await listed(remote, TREES)).filter((o) => !doomedManifestKeys.has(o.key));
  await Promise.all(
    present.map((o) =>
      limit(async () => {
        const bytes = await remote.read(o.key);
        const m = bytes ? parseManifest(bytes, hashOfKey(o.key, TREES)!) : undefined;
        if (m?.ok) for (const e of m.value.entries) if (e.kind === 'file') referenced.add(e.hash);
      }),
    ),
  );

  // 4. Blobs that no manifest names.
  const blobs = await listed(remote, BLOBS);
  const doomedBlobs = blobs.filter((o) => !young(o) && !referenced.has(hashOfKey(o.key, BLOBS)!));
  await remove(doomedBlobs.map((o) => o.key));

  const incomplete = opts.dryRun ? 0 : await remote.sweepIncomplete(opts.graceMs);
  return {
    records: count(records, doomedRecords),
    manifests: count(manifests, doomedManifests),
    blobs: count(blobs, doomedBlobs),
    incomplete,
  };
}

/** The objects under a layout prefix that the layout names (anything else is left alone). */
async function listed(
  remote: RemoteStore,
  kind: typeof BLOBS | typeof TREES | typeof RECORDS,
): Promise<RemoteObjectInfo[]> {
  const out: RemoteObjectInfo[] = [];
  for await (const o of remote.list(kind)) if (hashOfKey(o.key, kind)) out.push(o);
  return out;
}

function count(all: RemoteObjectInfo[], doomed: RemoteObjectInfo[]): RemoteGcCount {
  return { removed: doomed.length, kept: all.length - doomed.length, bytes: doomed.reduce((t, o) => t + o.size, 0) };
}
