/**
 * Garbage collection of the content store. Run it while holding the run lock.
 *
 * An object survives if it is in `keep` (what the caller's pipelines and lock files reference),
 * was produced or restored by one of the last N runs, or (by default) is the latest output of
 * some pipeline stage. Everything else goes: unreferenced objects with their output records,
 * objects on disk the index does not know (orphans of a crash between rename and commit), and
 * records whose object is gone. Records are deleted before their object, so a crash in between
 * leaves an orphan (collected next time), never a record pointing at nothing. Temp folders of
 * dead owners are cleaned too. `state/` folders are never touched.
 */
import type { ContentStore } from './content-store.js';
import type { CacheIndex } from './index-db.js';

export interface GcOptions {
  /** Report what would be removed without removing anything. */
  dryRun?: boolean;
  /** Objects referenced by the stage records of this many most recent runs are kept (default 10). */
  keepRecentRuns?: number;
  /** Keep the latest output of every pipeline stage (default true). */
  keepLatest?: boolean;
}

export interface GcReport {
  /** Objects removed from disk (or that would be, in a dry run). */
  removedObjects: number;
  /** Bytes freed: sizes of removed files not hard-linked elsewhere. */
  freedBytes: number;
  /** Output records deleted. */
  removedRecords: number;
  /** Temp folders removed (0 in a dry run). */
  removedTemp: number;
  /** Tree hashes of the removed objects, sorted. */
  removed: string[];
}

/** Remove what nothing references; see the module comment for what counts as a reference. */
export async function collectGarbage(
  index: CacheIndex,
  store: ContentStore,
  keep: Set<string>,
  opts: GcOptions = {},
): Promise<GcReport> {
  const kept = new Set(keep);
  for (const h of index.runs.treeHashesOfRecentRuns(opts.keepRecentRuns ?? 10)) kept.add(h);
  if (opts.keepLatest ?? true) for (const h of index.outputs.latestTreeHashes()) kept.add(h);

  const onDisk = new Set(await store.listObjects());
  const candidates = new Set<string>();
  for (const h of onDisk) if (!kept.has(h)) candidates.add(h);
  for (const r of index.outputs.outputRefs()) if (!kept.has(r.treeHash)) candidates.add(r.treeHash);

  const report: GcReport = { removedObjects: 0, freedBytes: 0, removedRecords: 0, removedTemp: 0, removed: [] };
  for (const treeHash of [...candidates].sort()) {
    if (opts.dryRun) {
      report.removedRecords += index.outputs.outputsOfTree(treeHash).length;
    } else {
      report.removedRecords += index.outputs.deleteOutputsOfTree(treeHash);
    }
    if (!onDisk.has(treeHash)) continue;
    report.freedBytes += store.freeableBytes(treeHash);
    if (!opts.dryRun) await store.remove(treeHash);
    report.removedObjects++;
    report.removed.push(treeHash);
  }
  if (!opts.dryRun) {
    report.removedTemp = await store.cleanupTemp();
    store.hasher.flush();
  }
  return report;
}
