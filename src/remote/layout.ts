/**
 * Where things live on a remote (keys relative to its root):
 *
 *   blobs/<ab>/<sha256>            one file's bytes, by content hash (shared by every output)
 *   trees/<ab>/<treeHash>.json     a tree manifest: the file list that re-creates one output
 *   records/<ab>/<stageKey>.json   a stage key's output record, written last
 *
 * A push writes the manifest, then the blobs it lacks, then the record; a reader only ever starts
 * from a record and checks everything it names, so what an interrupted push left is never taken.
 * Two-character shards keep folder remotes' directories small.
 */
import { isTreeHash } from '../cache/content-store.js';

export const BLOBS = 'blobs/';
export const TREES = 'trees/';
export const RECORDS = 'records/';

export function blobKey(hash: string): string {
  return `${BLOBS}${shard(hash)}/${hash}`;
}

export function manifestKey(treeHash: string): string {
  return `${TREES}${shard(treeHash)}/${treeHash}.json`;
}

export function recordKey(stageKey: string): string {
  return `${RECORDS}${shard(stageKey)}/${stageKey}.json`;
}

/** The hash a layout key names, or undefined for anything else (temp files, strangers). */
export function hashOfKey(key: string, kind: typeof BLOBS | typeof TREES | typeof RECORDS): string | undefined {
  if (!key.startsWith(kind)) return undefined;
  const m = /^([0-9a-f]{2})\/([0-9a-f]+)(\.json)?$/.exec(key.slice(kind.length));
  if (!m || !isTreeHash(m[2]!) || !m[2]!.startsWith(m[1]!) || (kind === BLOBS) !== (m[3] === undefined))
    return undefined;
  return m[2];
}

function shard(hash: string): string {
  if (!isTreeHash(hash)) throw new Error(`internal error: not a hash: ${JSON.stringify(hash)}`);
  return hash.slice(0, 2);
}
