/**
 * Whole-operation retries above the S3 SDK's own per-request retries: a body stream cut halfway,
 * a connection reset while a file is uploading, an upload the SDK gave up on. Exponential backoff
 * with jitter (src/data/backoff.ts); an abort stops at once.
 */
import { backoffDelay, sleep } from '../data/backoff.js';

export interface RetryOptions {
  /** Attempts in all (default 4). */
  attempts?: number;
  baseMs?: number;
  maxMs?: number;
  signal?: AbortSignal;
  /** Whether this failure is worth another attempt (default: everything but an abort). */
  retryable?: (e: unknown) => boolean;
  /** Told before each retry (for counters and tests). */
  onRetry?: (e: unknown, attempt: number) => void;
}

/** Run `fn(attempt)` until it resolves, or rethrow its last failure. */
export async function withRetries<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const attempts = opts.attempts ?? 4;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      const last = attempt + 1 >= attempts;
      if (last || opts.signal?.aborted || isAbort(e) || !(opts.retryable?.(e) ?? true)) throw e;
      opts.onRetry?.(e, attempt);
      await sleep(backoffDelay(attempt, opts.baseMs ?? 200, opts.maxMs ?? 5000, Math.random), opts.signal);
    }
  }
}

/** True for the error an AbortSignal raises. */
export function isAbort(e: unknown): boolean {
  const name = (e as { name?: unknown } | null)?.name;
  return name === 'AbortError';
}
