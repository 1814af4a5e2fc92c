/**
 * Minimal CSV output (RFC 4180 quoting) and a line writer that respects back-pressure, for the
 * failure reports, label maps and frequency tables the data stages write.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';

/** Quote a field when it holds a comma, quote or line break. */
export function csvField(value: string | number): string {
  const s = String(value);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One CSV line (with its newline). */
export function csvLine(fields: ReadonlyArray<string | number>): string {
  return fields.map(csvField).join(',') + '\n';
}

/** Appends text lines to a file without buffering the whole file in memory. */
export class LineWriter {
  private readonly stream: WriteStream;
  constructor(file: string) {
    this.stream = createWriteStream(file, 'utf8');
  }
  async write(text: string): Promise<void> {
    if (!this.stream.write(text)) await once(this.stream, 'drain');
  }
  async close(): Promise<void> {
    this.stream.end();
    await once(this.stream, 'finish');
  }
}
