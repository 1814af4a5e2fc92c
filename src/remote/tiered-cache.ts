/**
 * The seam the engine holds: one CacheBackend over the local store and, when `--remote` is given,
 * a remote behind it. The scheduler asks `restore(key)` before deciding to run a stage and
 * `publish(key)` after committing one; it never learns where bytes came from beyond the `from`
 * it reports (`"from":"remote"` in `run --json`), and stage code sees only a local folder.
 *
 * Remote trouble never fails a run: a corrupt or missing object is a notice and a miss (the stage
 * runs). A transport failure (remote down, timeouts after retries) is one warning, after which
 * the remote is left alone for the rest of this cache's life: every later stage would only wait
 * through the same retries to learn the same thing (a run's stages then simply run here).
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
  /** Why the remote is not used any more (it failed), or undefined while it is usable. */
  readonly remoteDown: string | undefined;
  close(): Promise<void>;
}

export class TieredCache implements CacheBackend {
  private down: string | undefined;

  constructor(
    private readonly local: LocalCache,
    private readonly remote?: RemoteCache,
    private readonly opts: { push?: boolean; onEvent?: TransferListener } = {},
  ) {}

  get remoteDown(): string | undefined {
    return this.down;
  }

  /** Whether `--push` is on (and there is a remote to push to). */
  get pushing(): boolean {
    return this.remote !== undefined && this.opts.push === true;
  }

  async lookup(stageKey: string): Promise<Found | undefined> {
    const here = this.local.presentOutput(stageKey);
    if (here) return { from: 'local', treeHash: here.treeHash, contentHash: here.contentHash ?? here.treeHash };
    return this.lookupRemote(stageKey);
  }

  /** What the remote alone has for a key (`status --remote` asks for fresh stages too). */
  async lookupRemote(stageKey: string): Promise<Found | undefined> {
    const remote = this.usable();
    if (!remote) return undefined;
    try {
      const rec = await remote.lookup(stageKey);
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
    const remote = this.usable();
    if (!remote) return undefined;
    const r = await remote.restore(stageKey, target);
    switch (r.kind) {
      case 'restored':
        return { from: 'remote', record: r.record };
      case 'present':
        return { from: 'local', record: r.record };
      case 'miss':
        if (r.reason !== 'not on the remote') this.notice(target.stage, `remote cache miss: ${r.reason}`);
        return undefined;
      case 'error':
        this.goDown(target.stage, r.message);
        return undefined;
    }
  }

  async publish(stageKey: string, label: string): Promise<PublishOutcome | undefined> {
    const remote = this.opts.push ? this.usable() : undefined;
    if (!remote) return undefined;
    try {
      return await remote.publish(stageKey, label);
    } catch (e) {
      return this.trouble(e, label);
    }
  }

  async close(): Promise<void> {
    await this.remote?.close();
  }

  private usable(): RemoteCache | undefined {
    return this.down === undefined ? this.remote : undefined;
  }

  private trouble(e: unknown, stage: string | undefined): undefined {
    if (!(e instanceof RemoteError)) throw e;
    this.goDown(stage, e.message);
    return undefined;
  }

  /** The one warning about a failing remote; it is not asked again. */
  private goDown(stage: string | undefined, message: string): void {
    this.down = message;
    const url = this.remote?.remote.url ?? 'remote';
    this.notice(stage, `remote cache ${url} unavailable (${message}): not using it for the rest of this run`);
  }

  private notice(stage: string | undefined, message: string): void {
    this.opts.onEvent?.({ type: 'remote-notice', stage, message });
  }
}
