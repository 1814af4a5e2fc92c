/**
 * What the distributed executors need from the remote cache, and nothing more: find an output
 * by stage key, bring it into a local cache (hash-checked, registered in that cache's index),
 * and publish a local output (objects first, then the key record that names them).
 *
 * This is the seam to the remote-cache library (src/remote/, S3 API and file://). Until that
 * lands, `openRemote` knows only the shared-folder implementation in this folder.
 */
import { fileURLToPath } from 'node:url';
import type { Session } from '../run/session.js';
import type { OutputRecord } from '../cache/index-db.js';
import { err, ok, type Result } from '../result.js';
import { SharedFolderRemote } from './shared-folder-remote.js';

/** The key -> output record a remote keeps: the local index's output row, under its key. */
export interface RemoteRecord extends Omit<OutputRecord, 'stageKey' | 'contentHash'> {
  key: string;
  contentHash: string;
}

export type RestoreResult = 'restored' | 'present' | 'missing' | 'corrupt';

export interface RemoteOutputs {
  readonly url: string;
  /** The record of a key whose objects are all on the remote, else undefined. */
  lookup(key: string): Promise<RemoteRecord | undefined>;
  /** Make the key's output present in `session`'s store and index (verified by hash). */
  restore(key: string, session: Session): Promise<RestoreResult>;
  /** Upload the key's output from `session` (must be in its index), objects before the record. */
  publish(key: string, session: Session): Promise<void>;
}

/** A remote from `--remote URL` / $TAILOR_REMOTE. */
export function openRemote(url: string | undefined): Result<RemoteOutputs, string> {
  const u = url ?? process.env.TAILOR_REMOTE;
  if (!u) return err('a distributed run moves outputs through a remote cache: give --remote URL (or TAILOR_REMOTE)');
  if (u.startsWith('file://')) {
    const path = fileURLToPath(u);
    return ok(new SharedFolderRemote(path, u));
  }
  if (u.startsWith('s3://'))
    return err(`remote ${u}: the S3 remote comes with the remote cache (src/remote); use file:///PATH for now`);
  return err(`remote ${u}: expected s3://BUCKET[/PREFIX] or file:///PATH`);
}
