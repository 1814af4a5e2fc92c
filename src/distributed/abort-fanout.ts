/**
 * One 'abort' listener per signal, however many jobs wait on it: a run hands the same signal to
 * every stage it submits (hundreds at once), and a listener each would trip Node's leak warning.
 */
const handlers = new WeakMap<AbortSignal, Set<() => void>>();

/** Call `fn` when `signal` aborts (at once if it already has); returns the way to stop listening. */
export function onAbort(signal: AbortSignal, fn: () => void): () => void {
  if (signal.aborted) {
    fn();
    return () => undefined;
  }
  let set = handlers.get(signal);
  if (!set) {
    const fresh = new Set<() => void>();
    handlers.set(signal, fresh);
    signal.addEventListener(
      'abort',
      () => {
        handlers.delete(signal);
        for (const h of fresh) h();
      },
      { once: true },
    );
    set = fresh;
  }
  set.add(fn);
  return () => set.delete(fn);
}
