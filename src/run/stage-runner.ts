/**
 * One stage, from "its upstream stages are done" to its outcome:
 *
 *   key ──output known & verified──> cached (export)
 *    │──restore hook brings it in (remote)──> cached, from: remote
 *    └──otherwise──> executor ──ok──> commit + record ──> after-commit hook ──> export ──> ran
 *                           └──fails──> failed (message stored in the run history)
 *
 * Like wireit's execute(), everything is wrapped: whatever throws outside the stage's own
 * process (a dep that cannot be hashed, an export to a folder, a full disk, a read-only object)
 * becomes a failed stage with one clear line, never a stack trace. Only a damaged index goes
 * up (every later stage would hit it too): the run stops with the recovery command.
 */
import { hostname } from 'node:os';
import type { Pipeline, StageSpec } from '../pipeline/types.js';
import type { OutputRecord } from '../cache/output-table.js';
import type { StageRunInput } from '../cache/run-history.js';
import { contentHash } from '../cache/content-hash.js';
import type { StageAction } from '../stage-states.js';
import type { EmitEvent, StageOutcome } from './events.js';
import type { Session } from './session.js';
import type { StageExecutor, StageJob } from './stage-executor.js';
import { classify, computeLocal, fullIngredients, keyHashOf } from './plan.js';
import { codeKeyOf, stageKey } from './stage-key.js';
import { commitFolder, recordCommitted, type CommitRequest } from './commit-output.js';
import { describeError, isIndexDamage } from './describe-error.js';
import { writeExports } from './workspace-exports.js';

/** Where a run may reach outside this cache: the seams for a remote cache. */
export interface RunHooks {
  /**
   * Before running a stage whose key has no usable output here: bring the output of `key` into
   * the store if some other cache has it (and return its record), else undefined.
   */
  restore?(request: { pipeline: string; stage: string; key: string }): Promise<OutputRecord | undefined>;
  /** After a stage's output was committed and recorded here (`--push` uploads it). */
  afterCommit?(output: OutputRecord): Promise<void>;
}

export interface StageRunContext {
  session: Session;
  pipeline: Pipeline;
  runId: number;
  executor: StageExecutor;
  hooks: RunHooks;
  signal: AbortSignal;
  emit: EmitEvent;
  force(name: string): boolean;
  /** Write `export:` targets into the workspace (verify does not). */
  exports: boolean;
  overwriteExports: boolean;
  /** A reason not to commit now (the run lost its lock). */
  commitGuard(): string | undefined;
}

/** Run (or reuse) one stage whose upstream outcomes are all ran/cached. Never rejects but for index damage. */
export async function runStage(
  ctx: StageRunContext,
  spec: StageSpec,
  upstream: StageOutcome[],
  gpuIds: number[],
): Promise<StageOutcome> {
  const started = Date.now();
  let key = '';
  let logPath: string | undefined;
  try {
    return await stageSteps(ctx, spec, upstream, gpuIds, started, (k, l) => {
      key = k;
      logPath = l;
    });
  } catch (e) {
    if (isIndexDamage(e)) throw e;
    return failedStage(ctx, spec, started, describeError(e), key, logPath);
  }
}

/** A failed stage: its run-history row (with the message) and its outcome. */
function failedStage(
  ctx: StageRunContext,
  spec: StageSpec,
  started: number,
  message: string,
  key: string,
  logPath?: string,
): StageOutcome {
  recordQuietly(ctx, runRecord(ctx, spec, key, 'failed', started, { logPath, error: message }));
  return {
    name: spec.name,
    action: 'failed',
    seconds: (Date.now() - started) / 1000,
    key: key || undefined,
    reasons: [message],
    logPath,
  };
}

async function stageSteps(
  ctx: StageRunContext,
  spec: StageSpec,
  upstream: StageOutcome[],
  gpuIds: number[],
  started: number,
  progress: (key: string, logPath?: string) => void,
): Promise<StageOutcome> {
  const { session, pipeline } = ctx;
  const seconds = () => (Date.now() - started) / 1000;
  const failed = (message: string, key: string, logPath?: string) =>
    failedStage(ctx, spec, started, message, key, logPath);

  const local = await computeLocal(session, pipeline, spec);
  if (!local.ok) return failed(local.error, '');
  const needs = Object.fromEntries(upstream.map((u) => [u.name, u.contentHash!]));
  const ingredients = fullIngredients(local.value, needs);
  const key = stageKey(ingredients);
  progress(key);
  const latest = session.index.outputs.getLatest(pipeline.name, spec.name);
  const plan = classify(session, spec, key, latest, ingredients, ctx.force(spec.name));
  const reasons = [...plan.reasons];

  if (plan.action !== 'run' && plan.treeHash) {
    const verdict = await session.store.verify(plan.treeHash);
    const known = session.index.outputs.getOutput(key);
    if (verdict === 'ok' && known) return reuse(ctx, spec, known, started, reasons);
    ctx.emit({
      type: 'notice',
      stage: spec.name,
      message: `cached output ${plan.treeHash.slice(0, 12)} is ${verdict}; running the stage again`,
    });
    session.index.outputs.deleteOutput(key);
    await session.store.remove(plan.treeHash);
    reasons.push(`cached output was ${verdict}`);
  }
  // A key with no usable output here (never run, removed, or just found damaged): the remote may have it.
  if (!ctx.force(spec.name) && ctx.hooks.restore) {
    const restored = await ctx.hooks.restore({ pipeline: pipeline.name, stage: spec.name, key });
    if (restored && (await session.store.verify(restored.treeHash)) === 'ok') {
      const output = { ...restored, stageKey: key, ingredients };
      return { ...(await reuse(ctx, spec, output, started, reasons, true)), from: 'remote' };
    }
  }

  const logPath = session.logPath(ctx.runId, spec.name);
  progress(key, logPath);
  ctx.emit({ type: 'stage-start', stage: spec.name, reasons, logPath });
  if (spec.resources.gpu > 0 && gpuIds.length < spec.resources.gpu && !ctx.executor.placesGpus) {
    ctx.emit({
      type: 'notice',
      stage: spec.name,
      message: `asks for ${spec.resources.gpu} GPU(s), ${gpuIds.length} available: running on the fallback backend`,
    });
  }
  const job: StageJob = {
    pipeline: pipeline.name,
    stage: spec.name,
    kind: spec.kind,
    module: spec.module,
    cmd: spec.cmd,
    params: spec.params,
    key,
    codeKey: codeKeyOf(local.value),
    inputs: Object.fromEntries(upstream.map((u) => [u.name, u.treeHash!])),
    seed: spec.seed,
    env: {},
    gpuIds,
    workdir: pipeline.workdir,
    timeoutSeconds: spec.timeoutSeconds,
  };
  const execution = await ctx.executor.run(job, {
    signal: ctx.signal,
    logPath,
    onLine: (line, stream) => ctx.emit({ type: 'stage-log', stage: spec.name, line, stream }),
    onProgress: (done, total, label) => ctx.emit({ type: 'stage-progress', stage: spec.name, done, total, label }),
  });
  if (!execution.ok) {
    const lost = execution.reason === 'interrupted' ? ctx.commitGuard() : undefined;
    return { ...failed(lost ? `stopped: ${lost}` : execution.message, key, logPath), worker: execution.worker };
  }

  const commit: CommitRequest = {
    session,
    pipeline: pipeline.name,
    stage: spec.name,
    key,
    ingredients,
    seconds: seconds(),
    guard: ctx.commitGuard,
    runRecord: (o) => runRecord(ctx, spec, key, 'ran', started, { logPath, treeHash: o.treeHash, metrics: o.metrics }),
  };
  const recorded =
    execution.output.kind === 'folder'
      ? await commitFolder(commit, execution.output.dir)
      : await recordRemote(commit, execution.output.treeHash);
  if (!recorded.ok) return { ...failed(recorded.error, key, logPath), worker: execution.worker };
  const output = recorded.value;
  await ctx.hooks.afterCommit?.(output);
  const exportProblem = await exportsOf(ctx, spec, output.treeHash);
  if (exportProblem) return failed(exportProblem, key, logPath);
  return {
    name: spec.name,
    action: 'ran',
    seconds: output.seconds,
    key,
    treeHash: output.treeHash,
    contentHash: keyHashOf(output),
    metrics: output.metrics,
    reasons,
    logPath,
    worker: execution.worker,
  };
}

/** An output that ran elsewhere: it must be in the store by now. */
async function recordRemote(commit: CommitRequest, treeHash: string) {
  const { store, hasher } = commit.session;
  if ((await store.verify(treeHash)) !== 'ok')
    return {
      ok: false as const,
      error: `the executor reported output ${treeHash.slice(0, 12)}, which the store does not have`,
    };
  return recordCommitted(commit, treeHash, await contentHash(store.pathOf(treeHash), hasher));
}

/**
 * Reuse an output of this key: point latest at it (recording the output first when it is `new`,
 * restored from elsewhere), record the stage run, export.
 */
async function reuse(
  ctx: StageRunContext,
  spec: StageSpec,
  known: OutputRecord,
  started: number,
  reasons: string[],
  isNew = false,
): Promise<StageOutcome> {
  const { index } = ctx.session;
  const stop = ctx.commitGuard();
  if (stop) throw new Error(`not recorded: ${stop}`);
  index.transaction(() => {
    if (isNew) index.outputs.putOutput(known);
    index.outputs.setLatest(ctx.pipeline.name, spec.name, known.stageKey);
    index.runs.recordStageRun(
      runRecord(ctx, spec, known.stageKey, 'cached', started, {
        treeHash: known.treeHash,
        metrics: known.metrics,
        source: isNew ? 'remote' : undefined,
      }),
    );
  });
  const problem = await exportsOf(ctx, spec, known.treeHash);
  const seconds = (Date.now() - started) / 1000;
  if (problem) {
    recordQuietly(ctx, runRecord(ctx, spec, known.stageKey, 'failed', started, { error: problem }));
    return { name: spec.name, action: 'failed', seconds, key: known.stageKey, reasons: [problem] };
  }
  return {
    name: spec.name,
    action: 'cached',
    seconds,
    key: known.stageKey,
    treeHash: known.treeHash,
    contentHash: keyHashOf(known),
    metrics: known.metrics,
    reasons,
  };
}

function exportsOf(ctx: StageRunContext, spec: StageSpec, treeHash: string): Promise<string | undefined> {
  if (!ctx.exports || Object.keys(spec.export).length === 0) return Promise.resolve(undefined);
  return writeExports(
    {
      session: ctx.session,
      pipeline: ctx.pipeline,
      overwrite: ctx.overwriteExports,
      notice: (message) => ctx.emit({ type: 'notice', stage: spec.name, message }),
    },
    spec,
    ctx.session.store.pathOf(treeHash),
  );
}

/** The run-history row of one stage. */
export function runRecord(
  ctx: Pick<StageRunContext, 'runId' | 'pipeline'>,
  spec: StageSpec,
  key: string,
  action: StageAction,
  started: number,
  extra: {
    treeHash?: string;
    metrics?: Record<string, unknown>;
    logPath?: string;
    error?: string;
    /** Where a cached output came from when not from this cache ('remote'). */
    source?: 'remote';
  },
): StageRunInput {
  const end = Date.now();
  return {
    runId: ctx.runId,
    pipeline: ctx.pipeline.name,
    stage: spec.name,
    stageKey: key,
    action,
    status: action === 'ran' || action === 'cached' ? 'ok' : action,
    start: started,
    end,
    seconds: (end - started) / 1000,
    host: hostname(),
    metrics: extra.metrics ?? {},
    logPath: extra.logPath ?? '',
    treeHash: extra.treeHash,
    error: extra.error,
    source: extra.source,
  };
}

/**
 * Write a stage-run row when the index lets us; a failure to record must not hide the stage's own.
 * A run that lost its lock writes nothing more (the new holder owns the cache now).
 */
export function recordQuietly(ctx: Pick<StageRunContext, 'session' | 'commitGuard'>, row: StageRunInput): void {
  if (ctx.commitGuard() !== undefined) return;
  try {
    ctx.session.index.runs.recordStageRun(row);
  } catch (e) {
    if (isIndexDamage(e)) throw e;
  }
}
