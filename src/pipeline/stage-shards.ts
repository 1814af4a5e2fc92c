/**
 * The stage key `shards: N`: which stages may take it (cmd stages, which read their part from
 * $TAILOR_SHARD_INDEX/$TAILOR_SHARD_COUNT, and the built-in stages that take the `shard` param), checked
 * at load time with the key's position; the loader then expands each such stage into its shards and
 * an assemble stage (src/distributed/shards.ts).
 */
import { builtinStagePath } from '../paths.js';
import { error, keyPath } from './diagnostics.js';
import type { ModuleRef } from './modules.js';
import type { Instance } from './stage-instances.js';
import type { Diagnostic } from './types.js';

/** Built-in stages that read the `shard` param (src/stage-kit/shard.ts). */
export const SHARDABLE_BUILTINS = ['fetch', 'pad', 'precompute'] as const;

/** The stage's shard count (1 when unset), with an error at `shards` when the stage cannot take it. */
export function checkShards(
  inst: Instance,
  shards: unknown,
  mod: ModuleRef | undefined,
  isCmd: boolean,
  diags: Diagnostic[],
): number {
  if (typeof shards !== 'number' || shards <= 1) return 1;
  const e = inst.body.entries.get('shards');
  const key = keyPath('stages', inst.group, 'shards');
  const pos = e?.keyPos ?? inst.keyPos;
  if (isCmd) return shards;
  if (!mod) return 1; // `uses` itself was wrong: reported there
  const builtin = SHARDABLE_BUILTINS.find((name) => mod.builtin && mod.module === builtinStagePath(name));
  if (!builtin) {
    const what = mod.builtin ? 'this built-in stage' : 'a module stage';
    diags.push(
      error(
        `shards: ${shards} needs a stage that takes a share of its items; ${what} does not (cmd stages and the built-in ${SHARDABLE_BUILTINS.join(', ')} do)`,
        pos,
        key,
      ),
    );
    return 1;
  }
  const params = inst.body.entries.get('params')?.value;
  const own = params?.kind === 'map' ? params.entries.get('shard') : undefined;
  if (own) {
    diags.push(
      error(
        `params.shard is set by shards: ${shards} (each shard gets its own); remove it`,
        own.keyPos,
        keyPath('stages', inst.group, 'params', 'shard'),
      ),
    );
    return 1;
  }
  return shards;
}
