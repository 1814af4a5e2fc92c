/**
 * Assembling the outputs of a sharded precompute (`precompute#1`..`#N`) into the output the
 * unsharded precompute writes, so train-head and everything below keep their keys. Per split, the
 * rows and missing lines come back in the split file's order (each shard recorded the rank of each
 * line and the file it went to in `_shard/order.jsonl`), the feature rows are copied byte for byte
 * (no float16 round trip) into shard files cut at the same `shard_rows` (`_shard/features-layout.json`),
 * through the writer precompute itself uses (feature-outputs.ts), and one features.json describes
 * them. Streaming: a merge over the shards by rank, with one block of rows per shard in memory.
 *
 * The bytes equal the unsharded run's where the backend gives an image the same features whatever
 * batch it is computed in (test/pipeline-shards-precompute.test.ts checks it on the backend at hand).
 */
import { existsSync } from 'node:fs';
import { open, readFile, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { FEATURES_FILE, readFeatureIndex, type FeatureIndex } from '../formats/features.js';
import { readJsonl } from '../formats/jsonl.js';
import type { SplitName } from '../formats/manifest.js';
import { SHARD_DIR, SHARD_ORDER_FILE } from '../stage-kit/shard.js';
import { FEATURE_LAYOUT_NOTE, writeSplitShards, type FeatureRowIn } from './feature-outputs.js';

interface OrderLine {
  set?: string;
  imageId: string;
  rank: number;
  file?: string;
}

/** A line of rows-<split>.jsonl or missing-<split>.jsonl. */
interface StoredLine {
  imageId: string;
  labels?: string[];
  hash?: string;
  error?: string;
}

interface Part {
  dir: string;
  index: FeatureIndex;
}

/**
 * When the shard outputs are precompute's (features.json in each), write the assembled features
 * into `out` and return the paths (relative to a shard) it has taken care of, for the generic
 * assembly to leave alone; undefined when they are not features.
 */
export async function assembleFeatureShards(dirs: string[], out: string): Promise<Set<string> | undefined> {
  const have = dirs.filter((d) => existsSync(join(d, FEATURES_FILE)));
  if (have.length === 0) return undefined;
  if (have.length < dirs.length)
    throw new Error(`only ${have.length} of ${dirs.length} shards wrote ${FEATURES_FILE}: not one stage's shards`);
  const parts: Part[] = await Promise.all(dirs.map(async (dir) => ({ dir, index: await readFeatureIndex(dir) })));
  const index = mergedIndex(parts);
  const shardRows = await layoutShardRows(dirs);
  const claimed = new Set([FEATURES_FILE]);
  for (const split of Object.keys(parts[0]!.index.splits) as SplitName[]) {
    for (const p of parts) {
      const meta = p.index.splits[split]!;
      [meta.rowsFile, meta.missingFile, ...meta.shards.map((s) => s.file)].forEach((f) => claimed.add(f));
    }
    index.splits[split] = await writeSplitShards(out, split, mergedRows(parts, split, index), index, shardRows);
  }
  await writeFile(join(out, FEATURES_FILE), JSON.stringify(index, null, 2) + '\n');
  return claimed;
}

/** The first shard's index without splits; every shard must agree on what the features are. */
function mergedIndex(parts: Part[]): FeatureIndex {
  const first = parts[0]!.index;
  const same = (i: FeatureIndex) =>
    JSON.stringify([i.format, i.backbone, i.dtype, i.flip, i.labels, Object.keys(i.splits)]);
  for (const p of parts)
    if (same(p.index) !== same(first))
      throw new Error(
        `${join(p.dir, FEATURES_FILE)}: its backbone, dtype, flip, labels or splits differ from the first shard's`,
      );
  const dims = new Set(
    parts.filter((p) => Object.values(p.index.splits).some((s) => s.rows > 0)).map((p) => p.index.dim),
  );
  if (dims.size > 1) throw new Error(`shards computed features of different widths: ${[...dims].join(', ')}`);
  // No rows anywhere (every image failed): the width of a shard that loaded the backbone, as unsharded.
  return { ...first, dim: [...dims][0] ?? Math.max(...parts.map((p) => p.index.dim)), splits: {} };
}

async function layoutShardRows(dirs: string[]): Promise<number> {
  const values = new Set<number>();
  for (const d of dirs) {
    const file = join(d, SHARD_DIR, FEATURE_LAYOUT_NOTE);
    if (!existsSync(file)) throw new Error(`${file} is missing: the shard was not written by a sharded precompute`);
    values.add((JSON.parse(await readFile(file, 'utf8')) as { shard_rows: number }).shard_rows);
  }
  if (values.size !== 1)
    throw new Error(`shards cut their feature files at different sizes: ${[...values].join(', ')}`);
  return [...values][0]!;
}

/** One shard's lines of a split, in its own (ascending rank) order, with their feature bytes. */
class PartSplit {
  private readonly order: AsyncGenerator<OrderLine>;
  private readonly rows: AsyncGenerator<StoredLine>;
  private readonly missing: AsyncGenerator<StoredLine>;
  private readonly bytes: RowBytes;
  head: OrderLine | undefined;

  constructor(
    private readonly part: Part,
    private readonly split: string,
    rowBytes: number,
  ) {
    const meta = part.index.splits[split]!;
    this.order = orderOf(part.dir, split);
    this.rows = readJsonl(join(part.dir, meta.rowsFile));
    this.missing = readJsonl(join(part.dir, meta.missingFile));
    this.bytes = new RowBytes(part.dir, meta.shards, rowBytes);
  }

  async advance(): Promise<void> {
    const n = await this.order.next();
    this.head = n.done ? undefined : n.value;
  }

  /** The line at the head, as precompute would have handed it to the writer. */
  async take(): Promise<FeatureRowIn> {
    const line = this.head!;
    const meta = this.part.index.splits[this.split]!;
    const isMissing = line.file === meta.missingFile;
    const next = isMissing ? await this.missing.next() : await this.rows.next();
    const where = join(this.part.dir, isMissing ? meta.missingFile : meta.rowsFile);
    if (next.done || next.value.imageId !== line.imageId)
      throw new Error(
        `${where}: does not match ${join(this.part.dir, SHARD_DIR, SHARD_ORDER_FILE)} at ${line.imageId}`,
      );
    const row = next.value;
    return isMissing
      ? { imageId: row.imageId, error: row.error }
      : { imageId: row.imageId, labels: row.labels, hash: row.hash, encoded: await this.bytes.next() };
  }

  async close(): Promise<void> {
    await this.bytes.close();
  }
}

async function* orderOf(dir: string, split: string): AsyncGenerator<OrderLine> {
  const file = join(dir, SHARD_DIR, SHARD_ORDER_FILE);
  if (!existsSync(file)) return;
  for await (const l of readJsonl<OrderLine>(file)) if (l.set === split) yield l;
}

/** Every shard's lines of one split in the unsharded order (lowest rank first). */
async function* mergedRows(parts: Part[], split: string, index: FeatureIndex): AsyncGenerator<FeatureRowIn> {
  const rowBytes = index.dim * (index.dtype === 'float16' ? 2 : 4);
  const open = parts.map((p) => new PartSplit(p, split, rowBytes));
  try {
    for (const p of open) await p.advance();
    let last = -1;
    for (;;) {
      let best: PartSplit | undefined;
      for (const p of open) if (p.head && (!best || p.head.rank < best.head!.rank)) best = p;
      if (!best) return;
      if (best.head!.rank <= last) throw new Error(`split ${split}: two shards hold line ${best.head!.rank}`);
      last = best.head!.rank;
      yield await best.take();
      await best.advance();
    }
  } finally {
    for (const p of open) await p.close();
  }
}

/** Rows of a split's shard files read in order, a block at a time, as stored bytes. */
class RowBytes {
  private file = -1;
  private handle: FileHandle | undefined;
  private left = 0;
  private block = new Uint8Array(0);
  private at = 0;

  constructor(
    private readonly dir: string,
    private readonly shards: ReadonlyArray<{ file: string; rows: number }>,
    private readonly rowBytes: number,
  ) {}

  async next(): Promise<Uint8Array> {
    if (this.at >= this.block.byteLength) await this.load();
    const row = this.block.subarray(this.at, this.at + this.rowBytes);
    this.at += this.rowBytes;
    return row;
  }

  private async load(): Promise<void> {
    while (this.left === 0) {
      await this.handle?.close();
      this.file++;
      const s = this.shards[this.file];
      if (!s) throw new Error(`${this.dir}: its shard files hold fewer rows than its rows files list`);
      this.handle = await open(join(this.dir, s.file), 'r');
      this.left = s.rows;
    }
    const rows = Math.min(this.left, Math.max(1, Math.floor((1 << 20) / this.rowBytes)));
    const block = new Uint8Array(rows * this.rowBytes);
    for (let got = 0; got < block.byteLength;) {
      const { bytesRead } = await this.handle!.read(block, got, block.byteLength - got);
      if (bytesRead === 0) throw new Error(`${join(this.dir, this.shards[this.file]!.file)}: truncated`);
      got += bytesRead;
    }
    this.left -= rows;
    this.block = block;
    this.at = 0;
  }

  async close(): Promise<void> {
    await this.handle?.close();
    this.handle = undefined;
  }
}
