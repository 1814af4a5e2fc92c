/**
 * The seam the engine holds: one CacheBackend over the local store and, when `--remote` is given,
 * a remote behind it. The scheduler asks `restore(key)` before deciding to run a stage and
 * `publish(key)` after committing one; it never learns where bytes came from beyond the `from`
 * it reports (`"from":"remote"` in `run --json`), and stage code sees only a local folder.
 *
 * Remote trouble never fails a run: a transport error or a corrupt object is a notice and a miss
 * (the stage runs), and a failed push is a notice.
 */
import type { LocalCache, OutputRecord } from './local-cache.js';
import type { PublishOutcome } from './publish.js';
import type { RemoteCache, RestoreTarget } from './remote-cache.js';
import { RemoteError } from './remote-store.js';
import type { TransferListener } from './transfer-meter.js';

export type Tier = 'local' | 'remote';

export interface Found {
  from: Tier;
  treeHash: string;
  contentHash: string;
}

export interface CacheBackend {
  /**
   * Where a key's output can be had, moving nothing (for `status --remote`); its content hash
   * lets planning key the downstream stages of an output that is only on the remote.
   */
  lookup(stageKey: string): Promise<Found | undefined>;
  /** Make a key's output present in the local store; undefined is a miss: run the stage. */
  restore(stageKey: string, target: RestoreTarget): Promise<{ from: Tier; record: OutputRecord } | undefined>;
  /** After a commit: upload the output when pushing is on (undefined when it is off). */
  publish(stageKey: string, label: string): Promise<PublishOutcome | undefined>;
  close(): Promise<void>;
}

export class TieredCache implements CacheBackend {
  constructor(
    private readonly local: LocalCache,
    private readonly remote?: RemoteCache,
    private readonly opts: { push?: boolean; onEvent?: TransferListener } = {},
  ) {}

  async lookup(stageKey: string): Promise<Found | undefined> {
    const here = this.local.presentOutput(stageKey);
    if (here) return { from: 'local', treeHash: here.treeHash, contentHash: here.contentHash ?? here.treeHash };
    if (!this.remote) return undefined;
    try {
      const rec = await this.remote.lookup(stageKey);
      return rec && { from: 'remote', treeHash: rec.treeHash, contentHash: rec.contentHash };
    } catch (e) {
      return this.trouble(e, undefined);
    }
  }

  async restore(stageKey: string, target: RestoreTarget): Promise<{ from: Tier; record: OutputRecord } | undefined> {
    const here = this.local.presentOutput(stageKey);
    if (here && (await this.local.store.verify(here.treeHash)) === 'ok') {
      if (target.setLatest) this.local.setLatest(target.pipeline, target.stage, stageKey);
      return { from: 'local', record: here };
    }
    if (!this.remote) return undefined;
    const r = await this.remote.restore(stageKey, target);
    switch (r.kind) {
      case 'restored':
        return { from: 'remote', record: r.record };
      case 'present':
        return { from: 'local', record: r.record };
      case 'miss':
        if (r.reason !== 'not on the remote') this.notice(target.stage, `remote cache miss: ${r.reason}`);
        return undefined;
      case 'error':
        this.notice(target.stage, `remote cache unavailable, running the stage: ${r.message}`);
        return undefined;
    }
  }

  async publish(stageKey: string, label: string): Promise<PublishOutcome | undefined> {
    if (!this.remote || !this.opts.push) return undefined;
    try {
      return await this.remote.publish(stageKey, label);
    } catch (e) {
      return this.trouble(e, label);
    }
  }

  async close(): Promise<void> {
    await this.remote?.close();
  }

  private trouble(e: unknown, stage: string | undefined): undefined {
    if (!(e instanceof RemoteError)) throw e;
    this.notice(stage, `remote cache: ${e.message}`);
    return undefined;
  }

  private notice(stage: string | undefined, message: string): void {
    this.opts.onEvent?.({ type: 'remote-notice', stage, message });
  }
}
