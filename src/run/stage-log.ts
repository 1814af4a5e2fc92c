/**
 * A stage's log file and the line splitting of its output. A write error (a full disk, a log
 * folder that vanished) is kept, never thrown or left as an unhandled 'error' event: the stage
 * then fails with that one message, after its output folder has been removed.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import type { Readable } from 'node:stream';

/** A line longer than this is cut into pieces (output without newlines must not grow unbounded). */
const MAX_LINE = 64 * 1024;

export class StageLog {
  private readonly stream: WriteStream;
  private failure: Error | undefined;

  constructor(readonly path: string) {
    this.stream = createWriteStream(path, { flags: 'a' });
    this.stream.on('error', (e) => (this.failure ??= e));
  }

  /** Why the log could not be written, if it could not. */
  get error(): Error | undefined {
    return this.failure;
  }

  write(line: string): void {
    if (!this.failure && !this.stream.destroyed) this.stream.write(line + '\n');
  }

  /** Flush and close; resolves once the file is closed (a write error is known by then); never rejects. */
  close(): Promise<void> {
    return new Promise((done) => {
      if (this.stream.closed) return done();
      // 'close' comes after 'finish' or after 'error': only then is `error` final.
      this.stream.once('close', () => done());
      if (!this.stream.destroyed) this.stream.end();
    });
  }
}

/** Call `onLine` for every line `stream` carries (the last one even without a newline). */
export function forEachLine(stream: Readable, onLine: (line: string) => void): void {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop() ?? '';
    for (const p of parts) onLine(p.endsWith('\r') ? p.slice(0, -1) : p);
    while (rest.length > MAX_LINE) {
      onLine(rest.slice(0, MAX_LINE));
      rest = rest.slice(MAX_LINE);
    }
  });
  stream.on('end', () => {
    if (rest) onLine(rest);
    rest = '';
  });
}
