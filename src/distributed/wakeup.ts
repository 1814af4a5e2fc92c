/** A wait that ends early when something happens (a pub/sub message, a job finishing, a stop request). */
export class Wakeup {
  private waiters: Array<() => void> = [];

  /** Resolve after `ms`, or at the next fire(). */
  wait(ms: number): Promise<void> {
    return new Promise((done) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== finish);
        done();
      };
      const timer = setTimeout(finish, ms);
      this.waiters.push(finish);
    });
  }

  fire(): void {
    for (const w of [...this.waiters]) w();
  }
}
