/** Ctrl-C and SIGTERM handling for long-running commands (exp queue --run, watch, verify). */

/** Run `fn` with `handler` listening to SIGINT and SIGTERM, and take it off again afterwards. */
export async function withStopSignals<T>(handler: (sig: NodeJS.Signals) => void, fn: () => Promise<T>): Promise<T> {
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  try {
    return await fn();
  } finally {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  }
}
