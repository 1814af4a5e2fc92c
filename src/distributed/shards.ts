/**
 * Scaling a per-item stage out: `shards: N` turns stage S into N shard stages `S#1`..`S#N`, each
 * taking part of the items on whichever worker is free, and an assemble stage under S's own name
 * that merges their outputs (assemble.ts). Downstream stages keep `needs: [S]`; since their keys
 * are made of S's content, not of how it was computed, a deterministic sharded stage leaves them
 * exactly as cached as the unsharded one.
 *
 * Which items a shard takes: `shardOf(id, N)` (a hash of the item id), so an item stays in its
 * shard when others are added or removed, and the shard's per-item cache (its state folder)
 * keeps working. A cmd stage reads its part from $TAILOR_SHARD_INDEX (0-based) and
 * $TAILOR_SHARD_COUNT; the built-in fetch and pad get the param `shard: {index, count}` and write
 * the rank of each of their lines, which the assembly orders by.
 *
 * The loader calls this for every stage with the YAML key `shards: N` (src/pipeline/stage-shards.ts
 * checks which stages may take it, with the key's position).
 */
import type { Pipeline, StageSpec } from '../pipeline/types.js';
import { builtinStagePath } from '../paths.js';
import { err, ok, type Result } from '../result.js';

export const MAX_SHARDS = 1024;

/** `pad#3`: the name of shard `i` (1-based) of a stage. */
export function shardName(stage: string, i: number): string {
  return `${stage}#${i}`;
}

export { shardOf } from '../stage-kit/shard.js';

/** Expand every stage named in `counts` into its shards and an assemble stage. */
export function expandShards(pipeline: Pipeline, counts: Record<string, number>): Result<Pipeline, string> {
  const stages: StageSpec[] = [];
  for (const spec of pipeline.stages) {
    const n = counts[spec.name] ?? 1;
    if (!Number.isInteger(n) || n < 1 || n > MAX_SHARDS)
      return err(`stage ${spec.name}: shards must be 1..${MAX_SHARDS}, got ${n}`);
    if (n === 1) {
      stages.push(spec);
      continue;
    }
    const parts = Array.from({ length: n }, (_, i) => shardName(spec.name, i + 1));
    parts.forEach((name, i) => stages.push(shardSpec(spec, name, i, n)));
    const orderBy = spec.needs.length === 1 ? spec.needs[0] : undefined;
    const { shards: _, ...unsharded } = spec;
    stages.push({
      ...unsharded,
      kind: 'module',
      module: builtinStagePath('assemble-shards'),
      builtin: true,
      cmd: undefined,
      // The stage's own upstreams too: a cmd stage's shards are ordered by its one input manifest.
      needs: [...parts, ...spec.needs.filter((u) => u === orderBy)],
      deps: [],
      params: { parts, ...(orderBy ? { order_by: orderBy } : {}) },
      resources: { gpu: 0 },
    });
  }
  return ok({ ...pipeline, stages });
}

/**
 * Shard `i` (0-based) of `n`: a cmd stage gets $TAILOR_SHARD_INDEX/$TAILOR_SHARD_COUNT, a built-in
 * stage the `shard` param (src/stage-kit/shard.ts); either is in the shard's key. Exports are the
 * assembled stage's.
 */
function shardSpec(spec: StageSpec, name: string, i: number, n: number): StageSpec {
  const { shards: _, ...rest } = spec;
  if (spec.kind === 'cmd') {
    return {
      ...rest,
      name,
      cmd: `TAILOR_SHARD_INDEX=${i} TAILOR_SHARD_COUNT=${n}; export TAILOR_SHARD_INDEX TAILOR_SHARD_COUNT; ${spec.cmd ?? ''}`,
      export: {},
    };
  }
  return { ...rest, name, params: { ...spec.params, shard: { index: i, count: n } }, export: {} };
}
