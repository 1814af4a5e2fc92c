/**
 * assemble-shards — the output of a sharded stage, merged from its shards (`S#1`..`S#N`) into
 * what the unsharded stage writes. The engine adds it when a stage has `shards: N`
 * (src/distributed/shards.ts); the merge rules are in src/distributed/assemble.ts.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { defineStage } from '../src/stage-api.js';
import { assembleShards } from '../src/distributed/assemble.js';

interface AssembleParams {
  parts: string[];
  order_by?: string;
}

export default defineStage<AssembleParams>({
  description: 'merge the outputs of a sharded stage',
  deterministic: true,
  params: {
    type: 'object',
    properties: {
      parts: { type: 'array', items: { type: 'string' }, minItems: 1 },
      order_by: { type: 'string' },
    },
    required: ['parts'],
    additionalProperties: false,
  },
  async run(ctx) {
    const dirs = ctx.params.parts.map((p) => {
      const dir = ctx.needs[p];
      if (!dir) throw new Error(`shard ${p} is not an upstream of ${ctx.stage}`);
      return dir;
    });
    const order = ctx.params.order_by ? ctx.needs[ctx.params.order_by] : undefined;
    await assembleShards(dirs, ctx.out, {
      orderBy: order && existsSync(join(order, 'manifest.jsonl')) ? order : undefined,
    });
    ctx.log(`assembled ${dirs.length} shards`);
  },
});
