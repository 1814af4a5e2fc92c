/**
 * Running a pipeline in a fresh, empty cache for `tailor verify`: nothing reused, no lock file
 * written, nothing exported into the workspace (exports would overwrite the user's files and are
 * not part of any stage key).
 */
import { hostname } from 'node:os';
import type { Pipeline } from '../pipeline/types.js';
import { executePipeline } from '../run/executor.js';
import type { RunEvent, StageAction } from '../run/events.js';
import { GpuPool, detectGpus } from '../run/gpu-pool.js';
import { Session } from '../run/session.js';
import type { Ingredients } from '../run/stage-key.js';
import type { Logger } from '../cli/loggers/logger.js';
import { contentHash } from '../cache/content-hash.js';

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
  logger: Logger;
  signal: AbortSignal;
}

export async function runFresh(
  pipeline: Pipeline,
  opts: FreshRunOptions,
): Promise<{ stages: Map<string, FreshStage>; interrupted: boolean }> {
  const session = await Session.open(opts.cacheDir);
  try {
    const started = Date.now();
    const runId = session.index.beginRun({
      pipeline: pipeline.name,
      argv: process.argv.slice(2),
      host: hostname(),
      pid: process.pid,
    });
    const noExports: Pipeline = { ...pipeline, stages: pipeline.stages.map((s) => ({ ...s, export: {} })) };
    const emit = (e: RunEvent) => opts.logger.handle(e);
    emit({ type: 'run-start', pipeline: pipeline.name, stages: opts.selected.size, jobs: opts.jobs });
    const outcomes = await executePipeline(session, noExports, {
      runId,
      jobs: Math.max(1, opts.jobs),
      force: () => false,
      selected: opts.selected,
      gpus: new GpuPool(detectGpus()),
      signal: opts.signal,
      emit,
    });
    const interrupted = opts.signal.aborted;
    emit({ type: 'run-end', outcomes, seconds: (Date.now() - started) / 1000, interrupted });
    opts.logger.close();
    session.index.endRun(
      runId,
      interrupted ? 'interrupted' : outcomes.some((o) => o.action === 'failed') ? 'failed' : 'ok',
    );
    const stages = new Map<string, FreshStage>();
    for (const o of outcomes) {
      const ingredients = o.key ? (session.index.getOutput(o.key)?.ingredients as Ingredients | undefined) : undefined;
      const stage: FreshStage = { name: o.name, action: o.action, metrics: o.metrics ?? {} };
      if (o.key) stage.key = o.key;
      if (o.treeHash) stage.treeHash = o.treeHash;
      if (o.treeHash && opts.contentOf.has(o.name))
        stage.content = await contentHash(session.store.pathOf(o.treeHash), session.hasher);
      if (ingredients) stage.ingredients = ingredients;
      if (o.action === 'failed' || o.action === 'skipped') stage.reason = o.reasons?.[0] ?? o.action;
      stages.set(o.name, stage);
    }
    return { stages, interrupted };
  } finally {
    session.close();
  }
}
