/**
 * Many images' label sets held compactly: label ids interned to small integers and rows stored
 * as one growing Int32Array (CSR layout), so a million rows of ~6 labels cost ~30 MB, not the
 * hundreds of MB of a million small JS arrays.
 */
export class LabelRows {
  private offsets: Int32Array<ArrayBuffer> = new Int32Array(1024);
  private values: Int32Array<ArrayBuffer> = new Int32Array(4096);
  private rows = 0;
  private nnz = 0;

  /** Append a row of label indices; returns its row number. */
  push(indices: readonly number[]): number {
    if (this.rows + 2 > this.offsets.length) this.offsets = grow(this.offsets, this.rows + 2);
    if (this.nnz + indices.length > this.values.length) this.values = grow(this.values, this.nnz + indices.length);
    for (const i of indices) this.values[this.nnz++] = i;
    this.rows++;
    this.offsets[this.rows] = this.nnz;
    return this.rows - 1;
  }

  get length(): number {
    return this.rows;
  }

  /** The label indices of row `r` (a view). */
  row(r: number): Int32Array {
    return this.values.subarray(this.offsets[r] as number, this.offsets[r + 1] as number);
  }
}

function grow(a: Int32Array<ArrayBuffer>, atLeast: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(Math.max(atLeast, a.length * 2));
  b.set(a);
  return b;
}

/** Label id <-> dense index, in order of first sight. */
export class LabelIndex {
  readonly ids: string[] = [];
  private readonly byId = new Map<string, number>();

  indexOf(id: string): number {
    let i = this.byId.get(id);
    if (i === undefined) {
      i = this.ids.length;
      this.ids.push(id);
      this.byId.set(id, i);
    }
    return i;
  }

  /** Index of a known id, or undefined. */
  find(id: string): number | undefined {
    return this.byId.get(id);
  }

  get size(): number {
    return this.ids.length;
  }
}

/** Order label ids as numbers when they all are, else as strings (the model's label order). */
export function sortLabelIds(ids: Iterable<string>): string[] {
  const all = [...ids];
  const numeric = all.every((id) => /^-?\d+(\.\d+)?$/.test(id));
  return numeric ? all.sort((a, b) => Number(a) - Number(b)) : all.sort();
}
