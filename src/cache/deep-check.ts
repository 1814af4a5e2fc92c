/**
 * `tailor doctor --deep`: rehash every object's bytes, ignoring the stat cache, and drop the ones
 * whose tree hash no longer matches their name, with the index rows pointing at them.
 *
 * The trade-off it exists for: everyday verification goes through the stat cache (device, inode,
 * size, mtime), which is what makes `status` over 100,000 files take a fraction of a second, but
 * it cannot see bytes that changed while size and mtime stayed (bit rot, a tool that restores
 * mtimes, `touch -d`). A deep check reads everything once; run it when you suspect the disk, or
 * from time to time on a long-lived cache.
 */
import type { ContentStore } from './content-store.js';
import { FileHasher } from './file-hasher.js';
import type { CacheIndex } from './index-db.js';

export interface BadObject {
  treeHash: string;
  /** `corrupt`: the bytes hash to something else; `unreadable`: it could not be read at all. */
  problem: 'corrupt' | 'unreadable';
  detail?: string;
  /** Output records that pointed at it (deleted unless a dry run). */
  records: number;
}

export interface DeepReport {
  checked: number;
  bytes: number;
  bad: BadObject[];
  /** False in a dry run: bad objects were only reported. */
  dropped: boolean;
}

/** Rehash every object from its bytes; drop bad ones unless `dryRun`. Hold the run lock to drop. */
export async function deepCheck(index: CacheIndex, store: ContentStore, opts: { dryRun?: boolean } = {}): Promise<DeepReport> {
  const hasher = new FileHasher(undefined); // no stat cache: every byte is read
  const report: DeepReport = { checked: 0, bytes: 0, bad: [], dropped: !opts.dryRun };
  for (const treeHash of await store.listObjects()) {
    report.checked++;
    let bad: BadObject | undefined;
    try {
      const h = await hasher.hashPath(store.pathOf(treeHash));
      report.bytes += h.bytes;
      if (h.kind !== 'dir' || h.hash !== treeHash) bad = { treeHash, problem: 'corrupt', records: 0 };
    } catch (e) {
      bad = { treeHash, problem: 'unreadable', detail: (e as Error).message, records: 0 };
    }
    if (!bad) continue;
    if (opts.dryRun) bad.records = index.outputs.outputsOfTree(treeHash).length;
    else {
      bad.records = index.outputs.deleteOutputsOfTree(treeHash);
      await store.remove(treeHash);
    }
    report.bad.push(bad);
  }
  if (!opts.dryRun) store.hasher.flush();
  return report;
}
