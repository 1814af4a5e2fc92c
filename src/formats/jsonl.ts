/** Streaming JSON Lines: read and write one object per line without holding the file in memory. */
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

/** Iterate the objects of a JSONL file; a malformed line throws with its line number. */
export async function* readJsonl<T = unknown>(file: string): AsyncGenerator<T> {
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let lineNo = 0;
  for await (const line of lines) {
    lineNo++;
    if (line.trim() === '') continue;
    try {
      yield JSON.parse(line) as T;
    } catch (err) {
      throw new Error(`${file}:${lineNo}: invalid JSON line: ${(err as Error).message}`);
    }
  }
}

/** Read a whole JSONL file into an array (for files known to be small). */
export async function readJsonlAll<T = unknown>(file: string): Promise<T[]> {
  const out: T[] = [];
  for await (const row of readJsonl<T>(file)) out.push(row);
  return out;
}

/** A JSONL writer that respects back-pressure. */
export class JsonlWriter {
  private readonly stream: WriteStream;
  constructor(file: string) {
    this.stream = createWriteStream(file, 'utf8');
  }
  async write(row: unknown): Promise<void> {
    if (!this.stream.write(JSON.stringify(row) + '\n')) await once(this.stream, 'drain');
  }
  async close(): Promise<void> {
    this.stream.end();
    await once(this.stream, 'finish');
  }
}

/** Write an array as JSONL in one go. */
export async function writeJsonl(file: string, rows: Iterable<unknown>): Promise<void> {
  const w = new JsonlWriter(file);
  for (const row of rows) await w.write(row);
  await w.close();
}
