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
 * $TAILOR_SHARD_COUNT; built-in stages get it as a param once they support sharding.
 *
 * This is the engine-side transform; the YAML key `shards:` (pipeline schema and loader) calls
 * it once the loader has it.
 */
import { createHash } from 'node:crypto';
import type { Pipeline, StageSpec } from '../pipeline/types.js';
import { builtinStagePath } from '../paths.js';
import { err, ok, type Result } from '../result.js';

export const MAX_SHARDS = 1024;

/** `pad#3`: the name of shard `i` (1-based) of a stage. */
export function shardName(stage: string, i: number): string {
  return `${stage}#${i}`;
}

/** The shard (0-based) an item belongs to: stable whatever other items there are. */
export function shardOf(id: string, count: number): number {
  return createHash('sha256').update(id).digest().readUInt32BE(0) % count;
}

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
    if (spec.kind !== 'cmd') {
      return err(
        `stage ${spec.name}: shards of module stages need the stage's own shard support (cmd stages only for now)`,
      );
    }
    const parts = Array.from({ length: n }, (_, i) => shardName(spec.name, i + 1));
    parts.forEach((name, i) =>
      stages.push({
        ...spec,
        name,
        cmd: `TAILOR_SHARD_INDEX=${i} TAILOR_SHARD_COUNT=${n}; export TAILOR_SHARD_INDEX TAILOR_SHARD_COUNT; ${spec.cmd ?? ''}`,
        export: {},
      }),
    );
    const orderBy = spec.needs.length === 1 ? spec.needs[0] : undefined;
    stages.push({
      ...spec,
      kind: 'module',
      module: builtinStagePath('assemble-shards'),
      builtin: true,
      cmd: undefined,
      needs: [...parts, ...(orderBy ? [orderBy] : [])],
      deps: [],
      params: { parts, ...(orderBy ? { order_by: orderBy } : {}) },
      resources: { gpu: 0 },
    });
  }
  return ok({ ...pipeline, stages });
}
