/**
 * One redrawable status line at the bottom of a terminal, with ordinary lines printed above it.
 * Live drawing is for a real terminal only (not CI, not a pipe); `tty` tells callers which.
 */
export class LiveLine {
  readonly tty: boolean;
  private shown = false;

  constructor(private readonly out: NodeJS.WriteStream) {
    this.tty = Boolean(out.isTTY) && process.env.CI !== 'true';
  }

  /** Replace the live line with `text`, cut to the terminal's width. */
  draw(text: string): void {
    this.clear();
    this.out.write(text.slice(0, (this.out.columns ?? 120) - 1));
    this.shown = true;
  }

  clear(): void {
    if (this.shown) {
      this.out.write('\r\x1b[K');
      this.shown = false;
    }
  }

  /** A finished line above the live one (the caller redraws the live line if it wants it back). */
  print(line: string): void {
    this.clear();
    this.out.write(line + '\n');
  }
}
