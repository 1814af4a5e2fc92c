/**
 * Running a pipeline in a fresh, empty cache for `tailor verify`, through the run use case:
 * nothing reused, no lock file written, nothing exported into the workspace (exports would
 * overwrite the user's files and are not part of any stage key). With a remote (`verify
 * --remote`), a stage whose key the remote has is restored from it (hash-checked) instead of
 * recomputed: CI then computes only what no one pushed and still compares every stage's bytes
 * and metrics with the lock file.
 */
import type { Pipeline } from '../pipeline/types.js';
import type { Ingredients } from '../cache/key-ingredients.js';
import { contentHash } from '../cache/content-hash.js';
import type { Result } from '../result.js';
import type { EmitEvent } from '../run/events.js';
import { runPipeline, type RunFailure } from '../run/run-pipeline.js';
import { Session } from '../run/session.js';
import { openRunRemote, remoteRunHooks } from '../remote/run-hooks.js';
import { err } from '../result.js';
import type { StageAction } from '../stage-states.js';

/** What the fresh run gave for one stage. */
export interface FreshStage {
  name: string;
  action: StageAction;
  key?: string;
  treeHash?: string;
  /** Output hash without metrics.json (computed for the stages in `contentOf`). */
  content?: string;
  metrics: Record<string, unknown>;
  /** What the key was made of (to tell a code change from an upstream change). */
  ingredients?: Ingredients;
  /** Why it failed or was skipped. */
  reason?: string;
  /** Restored from the remote cache rather than recomputed. */
  from?: 'remote';
}

export interface FreshRunOptions {
  cacheDir: string;
  selected: Set<string>;
  /** Stages whose content hash to compute (the deterministic ones). */
  contentOf: Set<string>;
  jobs: number;
  emit: EmitEvent;
  signal: AbortSignal;
  /** A remote cache to restore known keys from (`--remote`). */
  remote?: string;
}

export async function runFresh(
  pipeline: Pipeline,
  opts: FreshRunOptions,
): Promise<Result<{ stages: Map<string, FreshStage>; interrupted: boolean }, RunFailure>> {
  const session = await Session.open(opts.cacheDir);
  const remote = opts.remote
    ? await openRunRemote(opts.remote, session, { emit: opts.emit, signal: opts.signal })
    : undefined;
  try {
    if (remote && !remote.ok) return err({ kind: 'usage', message: remote.error });
    const result = await runPipeline(session, pipeline, {
      signal: opts.signal,
      emit: opts.emit,
      jobs: opts.jobs,
      stages: [...opts.selected],
      exports: false,
      hooks: remote && remoteRunHooks(remote.value, opts.emit),
    });
    if (!result.ok) return result;
    const stages = new Map<string, FreshStage>();
    for (const o of result.value.outcomes) {
      const ingredients = o.key ? session.index.outputs.getOutput(o.key)?.ingredients : undefined;
      const stage: FreshStage = { name: o.name, action: o.action, metrics: o.metrics ?? {} };
      if (o.key) stage.key = o.key;
      if (o.treeHash) stage.treeHash = o.treeHash;
      if (o.treeHash && opts.contentOf.has(o.name))
        stage.content = await contentHash(session.store.pathOf(o.treeHash), session.hasher);
      if (ingredients) stage.ingredients = ingredients;
      if (o.action === 'failed' || o.action === 'skipped') stage.reason = o.reasons?.[0] ?? o.action;
      if (o.from) stage.from = o.from;
      stages.set(o.name, stage);
    }
    return { ok: true, value: { stages, interrupted: result.value.interrupted } };
  } finally {
    if (remote?.ok) await remote.value.close();
    session.close();
  }
}
