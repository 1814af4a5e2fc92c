/**
 * What the distributed executors need from the remote cache, and nothing more: find an output by
 * stage key, bring it into a local cache (hash-checked and registered there: src/remote restores),
 * and publish a local output (objects first, then the key record that names them). Outputs move
 * between the run and its workers only this way, through the remote cache library (src/remote):
 * S3 API or a shared folder, whichever the URL names.
 */
import type { Session } from '../run/session.js';
import { err, ok, type Result } from '../result.js';
import { LocalCache } from '../remote/local-cache.js';
import { RemoteCache } from '../remote/remote-cache.js';
import type { RemoteRecord } from '../remote/remote-record.js';
import { describeError } from '../run/describe-error.js';

export type { RemoteRecord } from '../remote/remote-record.js';

export type RestoreResult = { ok: true; treeHash: string } | { ok: false; message: string };

/** One remote cache over one local cache (a worker's, or the run's). */
export interface RemoteOutputs {
  readonly url: string;
  /** The record of a key whose output is on the remote, else undefined. */
  lookup(key: string): Promise<RemoteRecord | undefined>;
  /** Make the key's output present in the local store and index (verified by hash). */
  restore(key: string, target: { pipeline: string; stage: string }): Promise<RestoreResult>;
  /** Upload the key's local output (it must be in the local index); an error message, or undefined. */
  publish(key: string, label?: string): Promise<string | undefined>;
  close(): Promise<void>;
}

const NO_REMOTE = 'a distributed run moves outputs through a remote cache: give --remote URL (or TAILOR_REMOTE)';

/** The remote of `--remote URL` / $TAILOR_REMOTE over a session's cache. */
export async function openRemoteOutputs(
  url: string | undefined,
  session: Session,
): Promise<Result<RemoteOutputs, string>> {
  const u = url ?? process.env.TAILOR_REMOTE;
  if (!u) return err(NO_REMOTE);
  const cache = await RemoteCache.open(u, new LocalCache(session));
  if (!cache.ok) return err(`remote ${u}: ${cache.error}`);
  return ok(new CacheOutputs(u, cache.value));
}

/** Whether a remote URL is given at all (checked before anything is opened). */
export function remoteUrlOf(url: string | undefined): Result<string, string> {
  const u = url ?? process.env.TAILOR_REMOTE;
  return u ? ok(u) : err(NO_REMOTE);
}

class CacheOutputs implements RemoteOutputs {
  constructor(
    readonly url: string,
    private readonly cache: RemoteCache,
  ) {}

  async lookup(key: string): Promise<RemoteRecord | undefined> {
    try {
      return await this.cache.lookup(key);
    } catch {
      return undefined; // a remote that does not answer has nothing usable: the job runs
    }
  }

  async restore(key: string, target: { pipeline: string; stage: string }): Promise<RestoreResult> {
    const out = await this.cache.restore(key, target);
    if (out.kind === 'restored' || out.kind === 'present') return { ok: true, treeHash: out.record.treeHash };
    return { ok: false, message: out.kind === 'miss' ? out.reason : out.message };
  }

  async publish(key: string, label?: string): Promise<string | undefined> {
    try {
      const out = await this.cache.publish(key, label);
      return out.kind === 'no-local' ? out.reason : undefined;
    } catch (e) {
      return `cannot push to ${this.url}: ${describeError(e)}`;
    }
  }

  close(): Promise<void> {
    return this.cache.close();
  }
}
