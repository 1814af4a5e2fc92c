/**
 * The blob-level seam under the remote cache: a flat key space of immutable objects (S3 API or a
 * shared folder). Everything above it (records, tree manifests, verification) is written once
 * against this interface, so a third backend is one small class.
 *
 * Keys are relative to the remote's root (`s3://BUCKET/PREFIX` or `file:///PATH`) and use `/`.
 * A missing object is a value (`undefined`), never an exception; transport failures that survive
 * the backend's retries throw RemoteError.
 */
import type { Readable } from 'node:stream';

/** Files above this size go as multipart uploads (S3) and at most two at a time. */
export const PART_BYTES = 8 * 1024 * 1024;

/** What a listing or HEAD says about one object. */
export interface RemoteObjectInfo {
  key: string;
  size: number;
  /** Last write, epoch milliseconds (the grace period of remote gc is measured against it). */
  modifiedMs: number;
}

/**
 * What to upload. A file is reopened on each attempt (so a failed upload can be retried); a
 * stream factory likewise; bytes are sent as they are.
 */
export type PutSource = { bytes: Uint8Array } | { file: string } | { stream: () => Readable; size?: number };

/** Per-transfer hooks: cancellation and a byte counter for progress. */
export interface TransferHooks {
  signal?: AbortSignal;
  /** Called with each newly moved byte count (not cumulative; negative when an attempt is redone). */
  onBytes?: (n: number) => void;
  /** Told when an attempt failed and is retried. */
  onRetry?: (message: string) => void;
}

/** Requests sent and retried (the SDK's own retries included), for summaries and tests. */
export interface RemoteCounters {
  requests: number;
  retries: number;
}

/** Source of a resumable download: the object's bytes from `offset` to its end. */
export interface RangeSource {
  body: Readable;
  /** The offset the body really starts at (0 when the server ignored the range). */
  from: number;
}

export interface RemoteStore {
  /** The URL it was opened from (for messages). */
  readonly url: string;
  readonly counters: RemoteCounters;
  /** Write an object in one visible step (readers see the old state or all of it). */
  put(key: string, source: PutSource, hooks?: TransferHooks): Promise<void>;
  /** The object's bytes from `offset` on; undefined if it does not exist. */
  openRange(key: string, offset: number, signal?: AbortSignal): Promise<RangeSource | undefined>;
  /** A small object's bytes in one piece; undefined if it does not exist. */
  read(key: string, signal?: AbortSignal): Promise<Buffer | undefined>;
  head(key: string): Promise<RemoteObjectInfo | undefined>;
  /** Every object whose key starts with `prefix`, in no promised order, paged lazily. */
  list(prefix: string): AsyncIterable<RemoteObjectInfo>;
  /** Delete objects; keys that do not exist are fine. */
  delete(keys: string[]): Promise<void>;
  /**
   * Remove what interrupted writes left behind (S3 multipart uploads, temp files of a folder)
   * that started more than `olderThanMs` ago. Returns how many were removed.
   */
  sweepIncomplete(olderThanMs: number): Promise<number>;
  /** Release connections. */
  close(): void;
}

/** A remote operation failed after its retries (network down, access denied, server errors). */
export class RemoteError extends Error {
  override name = 'RemoteError';
  constructor(
    message: string,
    readonly key?: string,
  ) {
    super(message);
  }
}
