/**
 * One split's features read from its shards on demand, so no split is ever held in memory: at the
 * challenge's size a backbone's train features are 1,014,544 x 2,288 halves (4.6 GB), over Node's
 * typed-array limit and far over a stage's memory budget. Rows are read with positioned reads
 * (the OS page cache, not the process, holds what is hot), only the rows a batch asks for, and
 * expanded to float32 for that batch alone. Gives the same values, in the same order, as the
 * in-memory FeatureMatrix (features.ts): training on either is the same computation.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { decodeHalf } from '../util/float16.js';
import type { FeatureDtype, FeatureIndex } from './features.js';

/** What training and prediction read features through (in memory or from shards). */
export interface FeatureRows {
  readonly rows: number;
  readonly dim: number;
  /**
   * Copy the given rows, as float32, into `dst` (row-major, indices.length x dim). The result is
   * the caller's to modify (training standardises it in place).
   */
  gather(indices: ArrayLike<number>, dst?: Float32Array): Float32Array;
  /** Rows [from, to) as float32, in a new array (the caller's to modify). */
  range(from: number, to: number): Float32Array;
  /** Feed the stored bytes, in row order, to a hash (identifies the features for checkpoint keys). */
  updateHash(h: { update(data: Uint8Array): unknown }): void;
}

/** Bytes read per call when hashing a whole split. */
const HASH_CHUNK = 8 << 20;

export class ShardedFeatures implements FeatureRows {
  readonly rows: number;
  private readonly rowBytes: number;
  private readonly files: string[];
  /** First row of each shard, and one past the last row at the end. */
  private readonly starts: Float64Array;
  private readonly fds: Array<number | undefined>;
  private scratch = new Uint8Array(0);

  constructor(
    dir: string,
    readonly dim: number,
    private readonly dtype: FeatureDtype,
    shards: ReadonlyArray<{ file: string; rows: number }>,
  ) {
    this.rowBytes = dim * (dtype === 'float16' ? 2 : 4);
    this.files = shards.map((s) => join(dir, s.file));
    this.starts = new Float64Array(shards.length + 1);
    shards.forEach((s, i) => (this.starts[i + 1] = this.starts[i]! + s.rows));
    this.rows = this.starts[shards.length]!;
    this.fds = new Array<number | undefined>(shards.length).fill(undefined);
  }

  /** The shard holding `row` (binary search over shard starts). */
  private shardOf(row: number): number {
    let lo = 0;
    let hi = this.files.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= row) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private fd(shard: number): number {
    return (this.fds[shard] ??= openSync(this.files[shard]!, 'r'));
  }

  /** Read `count` consecutive rows starting at `row` (all in one shard) into the scratch buffer. */
  private readRun(shard: number, row: number, count: number): Uint8Array {
    const bytes = count * this.rowBytes;
    if (this.scratch.byteLength < bytes) this.scratch = new Uint8Array(Math.max(bytes, this.scratch.byteLength * 2));
    const at = (row - this.starts[shard]!) * this.rowBytes;
    let got = 0;
    while (got < bytes) {
      const n = readSync(this.fd(shard), this.scratch, got, bytes - got, at + got);
      if (n === 0) throw new Error(`${this.files[shard]}: ends before row ${row + count} (truncated shard?)`);
      got += n;
    }
    return this.scratch;
  }

  /** Decode row `srcRow` of a run just read into row `dstRow` of `dst`. */
  private decodeRow(src: Uint8Array, srcRow: number, dst: Float32Array, dstRow: number): void {
    const d = this.dim;
    if (this.dtype === 'float16')
      decodeHalf(new Uint16Array(src.buffer, srcRow * this.rowBytes, d), dst, 0, d, dstRow * d);
    else dst.set(new Float32Array(src.buffer, srcRow * this.rowBytes, d), dstRow * d);
  }

  gather(indices: ArrayLike<number>, dst = new Float32Array(indices.length * this.dim)): Float32Array {
    const n = indices.length;
    // Read in file order (runs of consecutive rows in one read), write each row where it was asked.
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => indices[a]! - indices[b]!);
    let i = 0;
    while (i < n) {
      const first = indices[order[i]!]!;
      if (!(first >= 0 && first < this.rows)) throw new Error(`internal error: row ${first} of ${this.rows}`);
      const shard = this.shardOf(first);
      const end = this.starts[shard + 1]!;
      let j = i + 1;
      while (j < n && indices[order[j]!]! - first <= j - i && indices[order[j]!]! < end) j++;
      const last = indices[order[j - 1]!]!;
      const run = this.readRun(shard, first, last - first + 1);
      for (let k = i; k < j; k++) this.decodeRow(run, indices[order[k]!]! - first, dst, order[k]!);
      i = j;
    }
    return dst;
  }

  /** Consecutive rows: one read per shard (in chunks of at most HASH_CHUNK bytes), decoded in one pass. */
  range(from: number, to: number): Float32Array {
    if (!(from >= 0 && from <= to && to <= this.rows))
      throw new Error(`internal error: rows ${from}..${to} of ${this.rows}`);
    const d = this.dim;
    const dst = new Float32Array((to - from) * d);
    const rowsPerChunk = Math.max(1, Math.floor(HASH_CHUNK / this.rowBytes));
    for (let row = from; row < to;) {
      const shard = this.shardOf(row);
      const count = Math.min(to, this.starts[shard + 1]!, row + rowsPerChunk) - row;
      const run = this.readRun(shard, row, count);
      if (this.dtype === 'float16')
        decodeHalf(new Uint16Array(run.buffer, 0, count * d), dst, 0, count * d, (row - from) * d);
      else dst.set(new Float32Array(run.buffer, 0, count * d), (row - from) * d);
      row += count;
    }
    return dst;
  }

  updateHash(h: { update(data: Uint8Array): unknown }): void {
    const rowsPerChunk = Math.max(1, Math.floor(HASH_CHUNK / this.rowBytes));
    for (let s = 0; s < this.files.length; s++) {
      for (let row = this.starts[s]!; row < this.starts[s + 1]!; row += rowsPerChunk) {
        const count = Math.min(rowsPerChunk, this.starts[s + 1]! - row);
        h.update(this.readRun(s, row, count).subarray(0, count * this.rowBytes));
      }
    }
  }

  /** Close the shard files (reading again reopens them). */
  close(): void {
    this.fds.forEach((fd, i) => {
      if (fd !== undefined) closeSync(fd);
      this.fds[i] = undefined;
    });
  }
}

/**
 * A split's features read from its shards (each shard's size checked against its row count);
 * undefined when the split has none.
 */
export function openSplitFeatures(dir: string, index: FeatureIndex, split: string): ShardedFeatures | undefined {
  const meta = index.splits[split];
  if (!meta) return undefined;
  const per = index.dtype === 'float16' ? 2 : 4;
  for (const s of meta.shards) {
    const file = join(dir, s.file);
    const size = statSync(file).size;
    if (size !== s.rows * index.dim * per)
      throw new Error(`${file}: ${size} bytes, expected ${s.rows * index.dim * per}`);
  }
  const x = new ShardedFeatures(dir, index.dim, index.dtype, meta.shards);
  if (x.rows !== meta.rows)
    throw new Error(`${dir}: split ${split} has ${x.rows} rows in shards, expected ${meta.rows}`);
  return x;
}
