/**
 * Retry pacing: exponential backoff with "equal jitter" (half the delay fixed, half random), so
 * many workers that failed together do not retry together, yet each waits at least half the step.
 */

/** Delay before retry number `attempt` (0 = first retry): base·2^attempt capped at `maxMs`, jittered. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, rand: () => number): number {
  const step = Math.min(maxMs, baseMs * 2 ** attempt);
  return step / 2 + rand() * (step / 2);
}

/** Sleep `ms`, waking early (resolving) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
