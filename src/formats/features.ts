/**
 * Precomputed features on disk: per split, binary shards of row-major vectors (float32 or float16,
 * little-endian) plus a JSONL of the rows' image ids and labels, described by `features.json`.
 *
 *   features.json          FeatureIndex (below)
 *   rows-<split>.jsonl     {"imageId","labels":[...],"hash"} per row, in shard order
 *   <split>-00000.f16      rows x dim halves (.f32 for float32)
 *   missing-<split>.jsonl  {"imageId","error"} for images without features (failed fetch/decode)
 */
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { readJsonl } from './jsonl.js';
import { decodeHalf, encodeHalf } from '../util/float16.js';
import type { FeatureRows } from './feature-shards.js';

export const FEATURES_FILE = 'features.json';
export type FeatureDtype = 'float32' | 'float16';

export interface SplitShards {
  rows: number;
  rowsFile: string;
  shards: Array<{ file: string; rows: number }>;
  missing: number;
  missingFile: string;
}

export interface FeatureIndex {
  format: 'tailor-features/1';
  backbone: { name: string; id: string; inputSize: number; preprocess: string };
  dim: number;
  dtype: FeatureDtype;
  flip: string;
  /** Whether rows join pooled stage ends with the final feature. */
  multiscale?: boolean;
  /** Label ids in model order (from split's labels.json). */
  labels: string[];
  splits: Record<string, SplitShards>;
}

/** Appends rows to numbered shard files of at most `rowsPerShard` rows. */
export class ShardWriter {
  private handle: FileHandle | undefined;
  private inShard = 0;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  readonly shards: Array<{ file: string; rows: number }> = [];
  rows = 0;

  constructor(
    private readonly dir: string,
    private readonly prefix: string,
    private readonly dim: number,
    private readonly dtype: FeatureDtype,
    private readonly rowsPerShard = 8192,
  ) {}

  async add(row: Float32Array): Promise<void> {
    if (row.length !== this.dim) throw new Error(`internal error: row of ${row.length} values, expected ${this.dim}`);
    const bytes = this.dtype === 'float16' ? encodeHalf(row) : Float32Array.from(row);
    await this.addEncoded(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }

  /** A row already in the shard's dtype (little-endian bytes), written as it is. */
  async addEncoded(bytes: Uint8Array): Promise<void> {
    const want = this.dim * (this.dtype === 'float16' ? 2 : 4);
    if (bytes.byteLength !== want)
      throw new Error(`internal error: row of ${bytes.byteLength} bytes, expected ${want}`);
    if (!this.handle || this.inShard === this.rowsPerShard) await this.nextShard();
    this.pending.push(bytes);
    this.pendingBytes += bytes.byteLength;
    this.inShard++;
    this.rows++;
    this.shards[this.shards.length - 1]!.rows++;
    if (this.pendingBytes >= 1 << 20) await this.flush();
  }

  private async nextShard(): Promise<void> {
    await this.flush();
    await this.handle?.close();
    const file = `${this.prefix}-${String(this.shards.length).padStart(5, '0')}.${this.dtype === 'float16' ? 'f16' : 'f32'}`;
    this.handle = await open(join(this.dir, file), 'w');
    this.shards.push({ file, rows: 0 });
    this.inShard = 0;
  }

  private async flush(): Promise<void> {
    if (!this.handle || this.pending.length === 0) return;
    await this.handle.write(Buffer.concat(this.pending));
    this.pending = [];
    this.pendingBytes = 0;
  }

  async close(): Promise<void> {
    await this.flush();
    await this.handle?.close();
    this.handle = undefined;
  }
}

/** Features of one split held in memory in their stored precision (small sets; large ones: feature-shards.ts). */
export class FeatureMatrix implements FeatureRows {
  constructor(
    readonly rows: number,
    readonly dim: number,
    private readonly data: Float32Array | Uint16Array,
  ) {}

  /** Copy the given rows, as float32, into `dst` (row-major, indices.length x dim). */
  gather(indices: ArrayLike<number>, dst = new Float32Array(indices.length * this.dim)): Float32Array {
    const d = this.dim;
    for (let i = 0; i < indices.length; i++) {
      const r = indices[i]!;
      if (this.data instanceof Uint16Array) decodeHalf(this.data, dst, r * d, d, i * d);
      else dst.set(this.data.subarray(r * d, (r + 1) * d), i * d);
    }
    return dst;
  }

  /** Feed the stored bytes to a hash (identifies the features for checkpoint keys). */
  updateHash(h: { update(data: Uint8Array): unknown }): void {
    h.update(new Uint8Array(this.data.buffer, this.data.byteOffset, this.data.byteLength));
  }

  /** Rows [from, to) as float32. */
  range(from: number, to: number): Float32Array {
    const idx = new Int32Array(to - from);
    for (let i = 0; i < idx.length; i++) idx[i] = from + i;
    return this.gather(idx);
  }
}

export interface SplitData {
  ids: string[];
  labels: string[][];
  x: FeatureMatrix;
}

export async function readFeatureIndex(dir: string): Promise<FeatureIndex> {
  const file = join(dir, FEATURES_FILE);
  let index: FeatureIndex;
  try {
    index = JSON.parse(await readFile(file, 'utf8')) as FeatureIndex;
  } catch (e) {
    throw new Error(
      `${file}: cannot read precomputed features (is this a precompute stage's output?): ${(e as Error).message}`,
    );
  }
  if (index.format !== 'tailor-features/1') throw new Error(`${file}: unknown format ${JSON.stringify(index.format)}`);
  return index;
}

/** Bytes a split may take in memory through readSplit (far below the typed-array limit). */
const IN_MEMORY_LIMIT = 1 << 30;

/**
 * Load one split's rows and features into memory: for small splits (tests, tools). Stages read
 * features per batch from the shards instead (feature-shards.ts `openSplitFeatures`).
 */
export async function readSplit(dir: string, index: FeatureIndex, split: string): Promise<SplitData | undefined> {
  const meta = index.splits[split];
  if (!meta) return undefined;
  const size = meta.rows * index.dim * (index.dtype === 'float16' ? 2 : 4);
  if (size > IN_MEMORY_LIMIT)
    throw new Error(
      `${dir}: split ${split} holds ${size} bytes of features, too many to load at once: read it per batch with openSplitFeatures`,
    );
  const ids: string[] = [];
  const labels: string[][] = [];
  for await (const row of readJsonl<{ imageId: string; labels?: string[] }>(join(dir, meta.rowsFile))) {
    ids.push(row.imageId);
    labels.push(row.labels ?? []);
  }
  const per = index.dtype === 'float16' ? 2 : 4;
  const bytes = new Uint8Array(meta.rows * index.dim * per);
  let off = 0;
  for (const s of meta.shards) {
    const b = await readFile(join(dir, s.file));
    if (b.byteLength !== s.rows * index.dim * per)
      throw new Error(`${join(dir, s.file)}: ${b.byteLength} bytes, expected ${s.rows * index.dim * per}`);
    bytes.set(b, off);
    off += b.byteLength;
  }
  if (ids.length !== meta.rows || off !== bytes.byteLength)
    throw new Error(
      `${dir}: split ${split} has ${ids.length} rows listed and ${off / per / index.dim} stored, expected ${meta.rows}`,
    );
  const data = index.dtype === 'float16' ? new Uint16Array(bytes.buffer) : new Float32Array(bytes.buffer);
  return { ids, labels, x: new FeatureMatrix(meta.rows, index.dim, data) };
}
