/**
 * A built-in stage's share of the items when its pipeline says `shards: N`: the engine
 * (src/distributed/shards.ts) runs N copies of the stage, each with the param
 * `shard: { index, count }`, and an assemble stage joins their outputs. A shard keeps the items whose
 * id hashes to its index (`shardOf`: stable, so adding an image moves no other), and writes beside
 * its output the rank each of its lines has in the unsharded output (`_shard/order.jsonl`), so the
 * assembly puts the lines back in the unsharded order (src/data/shard-assembly.ts) whatever the
 * stage read them from. The param is part of the shard's key, so each shard is cached on its own.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { JsonlWriter } from '../formats/jsonl.js';

/** The shard (0-based) an item belongs to: stable whatever other items there are. */
export function shardOf(id: string, count: number): number {
  return createHash('sha256').update(id).digest().readUInt32BE(0) % count;
}

/** The `shard` param: which of `count` shards (0-based `index`) this run of the stage is. */
export interface ShardParam {
  index: number;
  count: number;
}

/** The JSON Schema of the `shard` param, for the params of every stage that can be sharded. */
export const SHARD_PARAM_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['index', 'count'],
  properties: {
    index: { type: 'integer', minimum: 0, maximum: 1023 },
    count: { type: 'integer', minimum: 1, maximum: 1024 },
  },
  description: 'set by the stage key `shards: N` (this run takes the items of one shard); not for hand use',
} as const;

/** The folder, inside a shard's output, of what only the assembly reads (never in the assembled output). */
export const SHARD_DIR = '_shard';
/** Under SHARD_DIR: one line `{set, imageId, rank[, file]}` per line the shard wrote. */
export const SHARD_ORDER_FILE = 'order.jsonl';

/** Which items are this run's, and where they go in the unsharded order. */
export class ShardPart {
  private order?: JsonlWriter;

  private constructor(
    private readonly shard: ShardParam | undefined,
    private readonly out: string,
  ) {}

  /** `shard` absent (or one shard): every item is this run's and nothing extra is written. */
  static async open(out: string, shard: ShardParam | undefined): Promise<ShardPart> {
    const part = new ShardPart(shard && shard.count > 1 ? shard : undefined, out);
    if (part.shard) {
      if (part.shard.index >= part.shard.count)
        throw new Error(`shard index ${part.shard.index} is not below the shard count ${part.shard.count}`);
      await mkdir(join(out, SHARD_DIR), { recursive: true });
      part.order = new JsonlWriter(join(out, SHARD_DIR, SHARD_ORDER_FILE));
    }
    return part;
  }

  get sharded(): boolean {
    return this.shard !== undefined;
  }

  /** The first shard: the one that writes what depends on all items (pad's preview). */
  get first(): boolean {
    return (this.shard?.index ?? 0) === 0;
  }

  /** Whether the item with this id is this shard's. */
  mine(imageId: string): boolean {
    return !this.shard || shardOf(imageId, this.shard.count) === this.shard.index;
  }

  /**
   * Record that this shard wrote the line of (set, imageId) that is line `rank` (0-based) unsharded;
   * `file`, when the stage sorts the lines of one set into several files (precompute's rows and
   * missing lists), names the file it went to.
   */
  async placed(set: string | undefined, imageId: string, rank: number, file?: string): Promise<void> {
    await this.order?.write({ ...(set === undefined ? {} : { set }), imageId, rank, ...(file ? { file } : {}) });
  }

  /** Write `_shard/<name>` (what the assembly needs besides the order, e.g. precompute's rows per file). */
  async note(name: string, value: unknown): Promise<void> {
    if (this.shard) await writeFile(join(this.out, SHARD_DIR, name), JSON.stringify(value) + '\n');
  }

  async close(): Promise<void> {
    await this.order?.close();
  }

  /** For logs: `shard 2 of 3` (1-based), or '' when unsharded. */
  label(): string {
    return this.shard ? `shard ${this.shard.index + 1} of ${this.shard.count}` : '';
  }
}
