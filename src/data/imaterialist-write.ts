/**
 * Writing an iMaterialist JSON file with bounded memory: images go straight to the file, the
 * annotations to a side file that is appended at close, so both arrays can be produced in one
 * pass over the images. One element per line keeps the file greppable.
 */
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';

async function put(stream: WriteStream, text: string): Promise<void> {
  if (!stream.write(text)) await once(stream, 'drain');
}

async function finish(stream: WriteStream): Promise<void> {
  stream.end();
  await once(stream, 'finish');
}

export class ImaterialistWriter {
  private readonly main: WriteStream;
  private readonly side: WriteStream | undefined;
  private readonly sidePath: string;
  private images = 0;
  private annotations = 0;

  /** `withAnnotations: false` writes a test file (no `annotations` key, as in the challenge). */
  constructor(
    private readonly file: string,
    withAnnotations: boolean,
  ) {
    this.sidePath = `${file}.annotations.part`;
    this.main = createWriteStream(file, 'utf8');
    this.main.write('{"images":[');
    this.side = withAnnotations ? createWriteStream(this.sidePath, 'utf8') : undefined;
  }

  async addImage(imageId: string, url: string): Promise<void> {
    await put(this.main, `${this.images++ === 0 ? '\n' : ',\n'}${JSON.stringify({ url, imageId })}`);
  }

  /** Labels are written as given (repeats included: the challenge data has some). */
  async addAnnotation(imageId: string, labelIds: readonly string[]): Promise<void> {
    if (!this.side) throw new Error('internal error: annotations added to a file written without them');
    await put(this.side, `${this.annotations++ === 0 ? '\n' : ',\n'}${JSON.stringify({ labelId: labelIds, imageId })}`);
  }

  async close(): Promise<void> {
    await put(this.main, '\n]');
    if (this.side) {
      await finish(this.side);
      await put(this.main, ',\n"annotations":[');
      await pipeline(createReadStream(this.sidePath), this.main, { end: false });
      await rm(this.sidePath, { force: true });
      await put(this.main, '\n]');
    }
    await put(this.main, '}\n');
    await finish(this.main);
  }

  get path(): string {
    return this.file;
  }
}
