/** assemble-shards: merge the shard outputs (the definition and params are in ../assemble-shards.ts). */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { StageContext } from '../../src/stage-api.js';
import { assembleShards } from '../../src/data/shard-assembly.js';
import { assembleFeatureShards } from '../../src/ml/feature-assembly.js';
import type { AssembleParams } from '../assemble-shards.js';

export default async function assemble(ctx: StageContext<AssembleParams>): Promise<void> {
  const dirs = ctx.params.parts.map((p) => {
    const dir = ctx.needs[p];
    if (!dir) throw new Error(`shard ${p} is not an upstream of ${ctx.stage}`);
    return dir;
  });
  const order = ctx.params.order_by ? ctx.needs[ctx.params.order_by] : undefined;
  const features = await assembleFeatureShards(dirs, ctx.out);
  await assembleShards(dirs, ctx.out, {
    orderBy: order && existsSync(join(order, 'manifest.jsonl')) ? order : undefined,
    skip: features,
  });
  ctx.log(`assembled ${dirs.length} shards`);
}
