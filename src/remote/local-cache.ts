/**
 * The remote cache's one door into the local cache: the content store, the hasher and the index's
 * output records. Every index call of src/remote goes through here, so when the index is split or
 * renamed only this file changes.
 */
import type { ContentStore } from '../cache/content-store.js';
import type { FileHasher } from '../cache/file-hasher.js';
import type { CacheIndex, OutputRecord } from '../cache/index-db.js';

export type { OutputRecord } from '../cache/index-db.js';

/** What src/remote needs of an open cache (a run Session has all of it: `local` is its folder store). */
export interface LocalCacheParts {
  cacheDir: string;
  index: CacheIndex;
  local: ContentStore;
  hasher: FileHasher;
}

export class LocalCache {
  readonly cacheDir: string;
  readonly store: ContentStore;
  readonly hasher: FileHasher;
  private readonly index: CacheIndex;

  constructor(parts: LocalCacheParts) {
    this.cacheDir = parts.cacheDir;
    this.index = parts.index;
    this.store = parts.local;
    this.hasher = parts.hasher;
  }

  /** The output recorded for a stage key. */
  output(stageKey: string): OutputRecord | undefined {
    return this.index.outputs.getOutput(stageKey);
  }

  /** The output recorded for a key whose folder is in the store (not re-verified). */
  presentOutput(stageKey: string): OutputRecord | undefined {
    const rec = this.index.outputs.getOutput(stageKey);
    return rec && this.store.exists(rec.treeHash) ? rec : undefined;
  }

  /** The latest output of every stage of a pipeline. */
  latestOfPipeline(pipeline: string): Map<string, OutputRecord> {
    return this.index.outputs.latestOfPipeline(pipeline);
  }

  /** Record an output (restored from a remote) and, if asked, make it its stage's latest, in one transaction. */
  register(rec: OutputRecord, latest?: { pipeline: string; stage: string }): void {
    this.index.transaction(() => {
      this.index.outputs.putOutput(rec);
      if (latest) this.index.outputs.setLatest(latest.pipeline, latest.stage, rec.stageKey);
    });
  }

  /** Point a stage at an output already recorded. */
  setLatest(pipeline: string, stage: string, stageKey: string): void {
    this.index.outputs.setLatest(pipeline, stage, stageKey);
  }

  /** Tree hashes this cache still uses: latest outputs and the outputs of its last `recentRuns` runs. */
  treesInUse(recentRuns: number): Set<string> {
    return new Set([...this.index.outputs.latestTreeHashes(), ...this.index.runs.treeHashesOfRecentRuns(recentRuns)]);
  }
}
