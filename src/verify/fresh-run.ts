/**
 * Running a pipeline in a fresh, empty cache for `tailor verify`, through the run use case:
 * nothing reused, no lock file written, nothing exported into the workspace (exports would
 * overwrite the user's files and are not part of any stage key).
 */
import type { Pipeline } from '../pipeline/types.js';
import type { Ingredients } from '../cache/key-ingredients.js';
import { contentHash } from '../cache/content-hash.js';
import type { Result } from '../result.js';
import type { EmitEvent } from '../run/events.js';
import { runPipeline, type RunFailure } from '../run/run-pipeline.js';
import { Session } from '../run/session.js';
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
}

export interface FreshRunOptions {
  cacheDir: string;
  selected: Set<string>;
  /** Stages whose content hash to compute (the deterministic ones). */
  contentOf: Set<string>;
  jobs: number;
  emit: EmitEvent;
  signal: AbortSignal;
}

export async function runFresh(
  pipeline: Pipeline,
  opts: FreshRunOptions,
): Promise<Result<{ stages: Map<string, FreshStage>; interrupted: boolean }, RunFailure>> {
  const session = await Session.open(opts.cacheDir);
  try {
    const result = await runPipeline(session, pipeline, {
      signal: opts.signal,
      emit: opts.emit,
      jobs: opts.jobs,
      stages: [...opts.selected],
      exports: false,
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
      stages.set(o.name, stage);
    }
    return { ok: true, value: { stages, interrupted: result.value.interrupted } };
  } finally {
    session.close();
  }
}
