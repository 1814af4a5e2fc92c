/**
 * The scheduler: runs a pipeline's stages in dependency order, up to `jobs` at once, each in a
 * child process, committing outputs to the content store.
 *
 * Per stage:
 *
 *   waiting --needs ok--> keyed --output known & verified--> cached
 *      |                    |--otherwise--> running --exit 0--> committed (rename + 1 transaction) = ran
 *      |                                           \--error/abort--> failed (temp folder removed)
 *      \--a need failed or was skipped--> skipped
 *
 * A stage's key is computed only when it becomes ready, from the actual tree hashes of its
 * upstream outputs: an upstream that reruns but produces the same bytes leaves it cached.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { hostname } from 'node:os';
import type { Pipeline, StageSpec } from '../pipeline/types.js';
import type { Session } from './session.js';
import type { EmitEvent, StageOutcome } from './events.js';
import type { ChildJob } from './child-protocol.js';
import type { GpuPool } from './gpu-pool.js';
import { classify, computeLocal, fullIngredients, keyHashOf } from './plan.js';
import { stageKey } from './stage-key.js';
import { runStageProcess } from './stage-process.js';
import { exportOutputs } from './export-outputs.js';
import { substituteRuntimePaths } from './cmd-template.js';
import { codeKeyOf } from './stage-context.js'; // house-stages: ctx.codeKey (issue 10.1)

export interface ExecuteOptions {
  runId: number;
  jobs: number;
  force: (name: string) => boolean;
  /** Restrict the run to these stages (their upstream stages are included). */
  selected: Set<string>;
  gpus: GpuPool;
  signal: AbortSignal;
  emit: EmitEvent;
}

interface Ready {
  spec: StageSpec;
  promise: Promise<void>;
}

export async function executePipeline(
  session: Session,
  pipeline: Pipeline,
  opts: ExecuteOptions,
): Promise<StageOutcome[]> {
  const outcomes = new Map<string, StageOutcome>();
  const waiting = pipeline.stages.filter((s) => opts.selected.has(s.name));
  const running = new Map<string, Ready>();
  const host = hostname();

  const gpuNeed = (spec: StageSpec): number => Math.min(spec.resources.gpu, opts.gpus.total);

  while (waiting.length > 0 || running.size > 0) {
    for (let i = 0; i < waiting.length && !opts.signal.aborted;) {
      const spec = waiting[i]!;
      const needs = spec.needs.map((n) => outcomes.get(n));
      const blocked = needs.find((o) => o && (o.action === 'failed' || o.action === 'skipped'));
      if (blocked) {
        waiting.splice(i, 1);
        const outcome: StageOutcome = {
          name: spec.name,
          action: 'skipped',
          seconds: 0,
          reasons: [`upstream ${blocked.name} ${blocked.action}`],
        };
        outcomes.set(spec.name, outcome);
        session.index.recordStageRun({
          runId: opts.runId,
          pipeline: pipeline.name,
          stage: spec.name,
          stageKey: '',
          action: 'skipped',
          status: 'skipped',
          start: Date.now(),
          end: Date.now(),
          seconds: 0,
          host,
          metrics: {},
          logPath: '',
        });
        opts.emit({ type: 'stage-end', outcome });
        continue;
      }
      const ready = needs.every((o) => o !== undefined);
      if (ready && running.size < opts.jobs && opts.gpus.canTake(gpuNeed(spec))) {
        waiting.splice(i, 1);
        const gpuIds = opts.gpus.take(gpuNeed(spec));
        const promise = processStage(session, pipeline, spec, outcomes, gpuIds, opts)
          .then((outcome) => {
            outcomes.set(spec.name, outcome);
            opts.emit({ type: 'stage-end', outcome });
          })
          .finally(() => {
            opts.gpus.give(gpuIds);
            running.delete(spec.name);
          });
        running.set(spec.name, { spec, promise });
        continue;
      }
      i++;
    }
    if (running.size === 0) break; // aborted, or nothing runnable
    await Promise.race([...running.values()].map((r) => r.promise));
  }
  return pipeline.stages.flatMap((s) => outcomes.get(s.name) ?? []);
}

async function processStage(
  session: Session,
  pipeline: Pipeline,
  spec: StageSpec,
  outcomes: Map<string, StageOutcome>,
  gpuIds: number[],
  opts: ExecuteOptions,
): Promise<StageOutcome> {
  const started = Date.now();
  const upstream = spec.needs.map((n) => outcomes.get(n)!);
  const needs = Object.fromEntries(upstream.map((u) => [u.name, u.contentHash!]));
  const local = await computeLocal(session, pipeline, spec);
  const ingredients = fullIngredients(local, needs);
  const key = stageKey(ingredients);
  const latest = session.index.getLatest(pipeline.name, spec.name);
  const plan = classify(session, spec, key, latest, ingredients, opts.force(spec.name));
  const reasons = [...plan.reasons];
  const host = hostname();
  const record = (
    action: StageOutcome['action'],
    extra: { treeHash?: string; metrics?: Record<string, unknown>; logPath?: string },
  ) => ({
    runId: opts.runId,
    pipeline: pipeline.name,
    stage: spec.name,
    stageKey: key,
    action,
    status: action === 'failed' ? 'failed' : 'ok',
    start: started,
    end: Date.now(),
    seconds: (Date.now() - started) / 1000,
    host,
    metrics: extra.metrics ?? {},
    logPath: extra.logPath ?? '',
    treeHash: extra.treeHash,
  });

  if (plan.action !== 'run' && plan.treeHash) {
    const verdict = await session.store.verify(plan.treeHash);
    if (verdict === 'ok') {
      const known = session.index.getOutput(key)!;
      session.index.transaction(() => {
        session.index.setLatest(pipeline.name, spec.name, key);
        session.index.recordStageRun(record('cached', { treeHash: plan.treeHash, metrics: known.metrics }));
      });
      await exportOutputs(spec, session.store.pathOf(plan.treeHash), pipeline.workdir);
      return {
        name: spec.name,
        action: 'cached',
        seconds: (Date.now() - started) / 1000,
        key,
        treeHash: plan.treeHash,
        contentHash: keyHashOf(known),
        metrics: known.metrics,
        reasons,
      };
    }
    opts.emit({
      type: 'notice',
      stage: spec.name,
      message: `cached output ${plan.treeHash.slice(0, 12)} is ${verdict}; running the stage again`,
    });
    session.index.deleteOutput(key);
    await session.store.remove(plan.treeHash);
    reasons.push(`cached output was ${verdict}`);
  }

  const tmp = await session.store.newTempDir(spec.name);
  const logPath = join(session.logsDir(), `${opts.runId}-${spec.name.replace(/[^A-Za-z0-9._@-]/g, '_')}.log`);
  opts.emit({ type: 'stage-start', stage: spec.name, reasons, logPath });
  if (spec.resources.gpu > 0 && gpuIds.length < spec.resources.gpu) {
    opts.emit({
      type: 'notice',
      stage: spec.name,
      message: `asks for ${spec.resources.gpu} GPU(s), ${gpuIds.length} available: running on the fallback backend`,
    });
  }
  const invocation = {
    stage: spec.name,
    params: spec.params,
    needs: Object.fromEntries(upstream.map((u) => [u.name, session.store.pathOf(u.treeHash!)])),
    out: tmp,
    state: session.stateDir(spec.name),
    codeKey: codeKeyOf(local.code, spec.cmd), // house-stages: the stage's code fingerprint as ctx.codeKey (issue 10.1)
    workdir: pipeline.workdir,
    seed: spec.seed,
  };
  const env: Record<string, string> = {
    TAILOR_STAGE: spec.name,
    TAILOR_OUT: tmp,
    TAILOR_STATE: invocation.state,
    TAILOR_SEED: String(spec.seed),
    CUDA_VISIBLE_DEVICES: gpuIds.join(','),
  };
  const job: ChildJob =
    spec.kind === 'module'
      ? { kind: 'module', module: spec.module!, invocation }
      : { kind: 'cmd', cmd: substituteRuntimePaths(spec.cmd ?? '', invocation.out, invocation.needs), invocation, env };
  const result = await runStageProcess({
    job,
    logPath,
    env,
    signal: opts.signal,
    onLine: (line, stream) => opts.emit({ type: 'stage-log', stage: spec.name, line, stream }),
    onProgress: (done, total, label) => opts.emit({ type: 'stage-progress', stage: spec.name, done, total, label }),
  });
  if (!result.ok) {
    await rm(tmp, { recursive: true, force: true });
    session.index.recordStageRun(record('failed', { logPath }));
    return {
      name: spec.name,
      action: 'failed',
      seconds: (Date.now() - started) / 1000,
      key,
      reasons: [result.message],
      logPath,
    };
  }
  const metrics = await readMetrics(tmp);
  const committed = await session.store.commit(tmp);
  const seconds = (Date.now() - started) / 1000;
  session.index.transaction(() => {
    session.index.putOutput({
      stageKey: key,
      treeHash: committed.treeHash,
      contentHash: committed.contentHash,
      pipeline: pipeline.name,
      stage: spec.name,
      ingredients,
      metrics,
      createdAt: Date.now(),
      seconds,
    });
    session.index.setLatest(pipeline.name, spec.name, key);
    session.index.recordStageRun(record('ran', { treeHash: committed.treeHash, metrics, logPath }));
  });
  await exportOutputs(spec, session.store.pathOf(committed.treeHash), pipeline.workdir);
  return {
    name: spec.name,
    action: 'ran',
    seconds,
    key,
    treeHash: committed.treeHash,
    contentHash: committed.contentHash,
    metrics,
    reasons,
    logPath,
  };
}

async function readMetrics(dir: string): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await readFile(join(dir, 'metrics.json'), 'utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
}
