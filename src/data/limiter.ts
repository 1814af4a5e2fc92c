/**
 * A concurrency limiter: `limit(fn)` runs `fn` once fewer than `n` calls are running. Unlike
 * TaskPool it returns each call's own promise, for callers that keep results in order.
 */
export type Limiter = <T>(fn: () => Promise<T>) => Promise<T>;

export function createLimiter(n: number): Limiter {
  if (!(n >= 1)) throw new Error(`internal error: limiter size ${n}`);
  let running = 0;
  const waiting: Array<() => void> = [];
  const release = (): void => {
    running--;
    const next = waiting.shift();
    if (next) {
      running++;
      next();
    }
  };
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (running < n) running++;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await fn();
    } finally {
      release();
    }
  };
}
