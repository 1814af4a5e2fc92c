/**
 * assemble-shards — the output of a sharded stage, merged from its shards (`S#1`..`S#N`) into
 * what the unsharded stage writes. The engine adds it when a stage has `shards: N`
 * (src/distributed/shards.ts); the merge rules are in src/data/shard-assembly.ts. Implementation:
 * impl/assemble-shards.ts.
 */
import { defineStage } from '../src/stage-api.js';

export interface AssembleParams {
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
  load: () => import('./impl/assemble-shards.js'),
});
