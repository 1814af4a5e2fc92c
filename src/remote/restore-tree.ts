/**
 * Re-create one output folder from its tree manifest and verified blobs, the way a stage's output
 * is made: written into a fresh `tmp/` folder of the local store, then `store.commit`, which hashes
 * it and renames it to its content address. The commit's tree hash must equal the manifest's, so
 * whatever goes into `objects/` is exactly the recorded output; on any failure the temp folder is
 * removed and nothing is registered.
 */
import { chmod, copyFile, link, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CommitResult, ContentStore } from '../cache/content-store.js';
import pLimit from 'p-limit';
import { err, ok, type Result } from '../result.js';
import { SMALL_BLOB, type BlobFailure, type BlobFetcher, type FetchHooks } from './blob-fetcher.js';
import type { TreeManifest } from './tree-manifest.js';

export interface RestoreTreeOptions extends FetchHooks {
  /** Blob downloads at once. */
  concurrency: number;
  /** Label of the temp folder (the stage name). */
  label: string;
  onObject?: () => void;
}

export async function restoreTree(
  store: ContentStore,
  fetcher: BlobFetcher,
  manifest: TreeManifest,
  opts: RestoreTreeOptions,
): Promise<Result<CommitResult, BlobFailure>> {
  const tmp = await store.newTempDir(`remote-${opts.label}`);
  try {
    const placed = await place(tmp, fetcher, manifest, opts);
    if (!placed.ok) {
      await rm(tmp, { recursive: true, force: true });
      return placed;
    }
    const committed = await store.commit(tmp);
    if (committed.treeHash !== manifest.treeHash) {
      // Cannot happen with verified blobs and a checked manifest; the object stays as an orphan for gc.
      const message = `restored folder hashes to ${committed.treeHash.slice(0, 12)}, not ${manifest.treeHash.slice(0, 12)}`;
      return err({ kind: 'corrupt', message });
    }
    return ok(committed);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

async function place(
  tmp: string,
  fetcher: BlobFetcher,
  manifest: TreeManifest,
  opts: RestoreTreeOptions,
): Promise<Result<void, BlobFailure>> {
  const byHash = new Map<string, Array<{ path: string; exec: boolean }>>();
  const sizes = new Map<string, number>();
  for (const e of manifest.entries) {
    if (e.kind === 'dir') await mkdir(join(tmp, e.path));
    else if (e.kind === 'link') await symlink(e.target, join(tmp, e.path));
    else {
      const list = byHash.get(e.hash) ?? [];
      list.push({ path: e.path, exec: e.exec });
      byHash.set(e.hash, list);
      sizes.set(e.hash, e.size);
    }
  }
  const limit = pLimit(Math.max(1, opts.concurrency));
  let failure: BlobFailure | undefined;
  await Promise.all(
    [...byHash].map(([hash, paths]) =>
      limit(async () => {
        if (failure !== undefined) return;
        const size = sizes.get(hash)!;
        if (size <= SMALL_BLOB) {
          const bytes = await fetcher.fetchSmall(hash, size, opts);
          if (!bytes.ok) failure ??= bytes.error;
          else
            for (const p of paths) {
              await writeFile(join(tmp, p.path), bytes.value);
              await chmod(join(tmp, p.path), p.exec ? 0o755 : 0o644);
            }
          opts.onObject?.();
          return;
        }
        const got = await fetcher.fetch(hash, size, opts);
        if (!got.ok) {
          failure ??= got.error;
          return;
        }
        for (const p of paths) {
          const dest = join(tmp, p.path);
          // The first placement of a download takes its inode (no copy of a GB shard); any other
          // copies, so no two outputs share a file and nothing touches a committed object.
          if (!(fetcher.claimLink(hash) && (await tryLink(got.value, dest)))) await copyFile(got.value, dest);
          await chmod(dest, p.exec ? 0o755 : 0o644);
        }
        opts.onObject?.();
      }),
    ),
  );
  return failure === undefined ? ok(undefined) : err(failure);
}

async function tryLink(from: string, to: string): Promise<boolean> {
  try {
    await link(from, to);
    return true;
  } catch {
    return false;
  }
}
