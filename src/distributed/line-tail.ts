/** The last N lines of a stage's log: what a failure report carries back from another machine. */
export class LineTail {
  private readonly buf: string[] = [];

  constructor(private readonly max: number) {}

  push(line: string): void {
    this.buf.push(line.length > 500 ? line.slice(0, 500) + '…' : line);
    if (this.buf.length > this.max) this.buf.shift();
  }

  lines(): string[] {
    return [...this.buf];
  }
}
