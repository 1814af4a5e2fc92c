/**
 * Bounded concurrency for async work items: `add` waits while `limit` items are in flight, so a
 * producer streaming a million items never holds more than `limit` promises. The first failure
 * is kept and rethrown by the next `add` or by `drain`, so a loop stops promptly.
 */
export class TaskPool {
  private readonly running = new Set<Promise<void>>();
  private failure: { error: unknown } | undefined;

  constructor(readonly limit: number) {
    if (!(limit >= 1)) throw new Error(`internal error: pool limit ${limit}`);
  }

  /** Start `task` once a slot is free. */
  async add(task: () => Promise<void>): Promise<void> {
    while (this.running.size >= this.limit) await Promise.race(this.running);
    this.rethrow();
    const p: Promise<void> = task()
      .catch((error: unknown) => {
        this.failure ??= { error };
      })
      .finally(() => this.running.delete(p));
    this.running.add(p);
  }

  /** Wait for every started task; rethrows the first failure. */
  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.race(this.running);
    this.rethrow();
  }

  get active(): number {
    return this.running.size;
  }

  private rethrow(): void {
    if (this.failure) throw this.failure.error;
  }
}
