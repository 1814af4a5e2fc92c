/**
 * Running one StageJob on a worker (a BullMQ worker, or a Slurm job script): what a local run
 * does for one stage, with the inputs coming from the remote and the output going back to it.
 *
 *   resolve needs (pending ones from their results) -> check this machine's view of the stage
 *   (code, deps) against the run's -> key known on the remote? done -> restore inputs into the
 *   worker's cache (hash-checked) -> run in a child process -> commit locally -> publish to the
 *   remote -> result
 *
 * The output is published before the result is handed back, so whoever registers the result
 * can always fetch the output. The check of the worker's view is what keeps "same key, same
 * output" true across machines: a worker with other code or other dep files refuses the job
 * and says what differs, instead of filling the cache under a key that does not describe it.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import type { Pipeline, StageSpec } from '../pipeline/types.js';
import type { Session } from '../run/session.js';
import type { ChildJob } from '../run/child-protocol.js';
import { computeLocal, fullIngredients } from '../run/plan.js';
import { stageKey, type LocalIngredients } from '../run/stage-key.js';
import { canonicalJson } from '../run/canonical-json.js';
import { explainChange } from '../run/explain.js';
import { runStageProcess } from '../run/stage-process.js';
import { substituteRuntimePaths } from '../run/cmd-template.js';
import { builtinStagePath } from '../paths.js';
import type { RemoteOutputs } from './remote-outputs.js';
import { isPending, type ResolvedNeed, type StageJob, type StageJobResult } from './stage-job.js';
import { LineTail } from './line-tail.js';

export interface JobContext {
  /** The worker's own cache. */
  session: Session;
  remote: RemoteOutputs;
  /** `host:pid`, or the Slurm job id. */
  worker: string;
  /** GPU ids this job holds (CUDA_VISIBLE_DEVICES); undefined: keep the environment's (Slurm sets it). */
  gpuIds?: number[];
  /** Where the workspace is on this machine, when not at the job's path. */
  workdir?: string;
  signal: AbortSignal;
  onLine(line: string, stream: 'stdout' | 'stderr'): void;
  onProgress(done: number, total: number, label?: string): void;
  /** Results of upstream jobs that were pending when this one was submitted. */
  resolvePending?(stage: string): Promise<ResolvedNeed | undefined>;
}

export async function runStageJob(job: StageJob, ctx: JobContext): Promise<StageJobResult> {
  const started = Date.now();
  const tail = new LineTail(40);
  const fail = (message: string): StageJobResult => ({
    ok: false,
    message,
    worker: ctx.worker,
    seconds: (Date.now() - started) / 1000,
    logTail: tail.lines(),
  });

  const needs: Record<string, ResolvedNeed> = {};
  for (const [name, need] of Object.entries(job.needs)) {
    const resolved = isPending(need) ? await ctx.resolvePending?.(need.after) : need;
    if (!resolved) return fail(`upstream ${name} has no result`);
    needs[name] = resolved;
  }
  const key = stageKey(
    fullIngredients(job.local, Object.fromEntries(Object.entries(needs).map(([n, r]) => [n, r.contentHash]))),
  );
  if (job.key !== undefined && job.key !== key) return fail(`internal error: job key ${job.key}, computed ${key}`);

  const view = await workerView(job, ctx);
  if (!view.ok) return fail(view.message);

  const done = (
    rec: { treeHash: string; contentHash: string; metrics: Record<string, unknown> },
    from: 'ran' | 'remote',
  ) =>
    ({
      ok: true,
      key,
      treeHash: rec.treeHash,
      contentHash: rec.contentHash,
      metrics: rec.metrics,
      worker: ctx.worker,
      seconds: (Date.now() - started) / 1000,
      from,
      logTail: tail.lines(),
    }) satisfies StageJobResult;

  const known = await ctx.remote.lookup(key);
  if (known) return done(known, 'remote');

  const inputs: Record<string, string> = {};
  for (const [name, need] of Object.entries(needs)) {
    const restored = await ctx.remote.restore(need.key, ctx.session);
    if (restored === 'missing' || restored === 'corrupt') {
      return fail(
        `input ${name} (output ${need.treeHash.slice(0, 12)}) is ${restored} on the remote ${ctx.remote.url}`,
      );
    }
    inputs[name] = ctx.session.store.pathOf(need.treeHash);
  }

  const store = ctx.session.store;
  const tmp = await store.newTempDir(job.stage);
  const logPath = join(ctx.session.logsDir(), `${job.run}-${job.stage.replace(/[^A-Za-z0-9._@-]/g, '_')}.log`);
  const invocation = {
    stage: job.stage,
    params: job.spec.params,
    needs: inputs,
    out: tmp,
    state: ctx.session.stateDir(job.stage),
    workdir: view.workdir,
    seed: job.spec.seed,
  };
  const env: Record<string, string> = {
    ...job.env,
    TAILOR_STAGE: job.stage,
    TAILOR_OUT: tmp,
    TAILOR_STATE: invocation.state,
    TAILOR_SEED: String(job.spec.seed),
    ...(ctx.gpuIds ? { CUDA_VISIBLE_DEVICES: ctx.gpuIds.join(',') } : {}),
  };
  const child: ChildJob =
    job.spec.kind === 'module'
      ? { kind: 'module', module: view.module!, invocation }
      : { kind: 'cmd', cmd: substituteRuntimePaths(job.spec.cmd ?? '', tmp, inputs), invocation, env };
  const result = await runStageProcess({
    job: child,
    logPath,
    env,
    signal: ctx.signal,
    onLine: (line, stream) => {
      tail.push(line);
      ctx.onLine(line, stream);
    },
    onProgress: ctx.onProgress,
  });
  if (!result.ok) {
    await rm(tmp, { recursive: true, force: true });
    return fail(result.message);
  }
  const metrics = await readMetrics(tmp);
  const committed = await store.commit(tmp);
  ctx.session.index.putOutput({
    stageKey: key,
    treeHash: committed.treeHash,
    contentHash: committed.contentHash,
    pipeline: job.pipeline,
    stage: job.stage,
    ingredients: fullIngredients(
      job.local,
      Object.fromEntries(Object.entries(needs).map(([n, r]) => [n, r.contentHash])),
    ),
    metrics,
    createdAt: Date.now(),
    seconds: (Date.now() - started) / 1000,
  });
  await ctx.remote.publish(key, ctx.session);
  return done({ treeHash: committed.treeHash, contentHash: committed.contentHash, metrics }, 'ran');
}

type View = { ok: true; workdir: string; module?: string } | { ok: false; message: string };

/**
 * Where this job runs on this machine, and whether this machine's code and dep files are the
 * ones the run hashed. A job with no deps and no user module needs no workspace at all.
 */
async function workerView(job: StageJob, ctx: JobContext): Promise<View> {
  const wanted = ctx.workdir ?? job.workdir;
  const needsWorkspace = job.spec.deps.length > 0 || (job.spec.module !== undefined && 'path' in job.spec.module);
  let workdir = wanted;
  if (!existsSync(wanted)) {
    if (needsWorkspace) {
      return {
        ok: false,
        message: `stage ${job.stage} reads from the workspace ${wanted}, which this worker does not have (start the worker with --workdir DIR where the checkout is)`,
      };
    }
    workdir = join(tmpdir(), 'tailor-worker-empty-workdir');
    await mkdir(workdir, { recursive: true });
  }
  const module =
    job.spec.module === undefined
      ? undefined
      : 'builtin' in job.spec.module
        ? builtinStagePath(job.spec.module.builtin)
        : resolve(workdir, job.spec.module.path);
  const spec: StageSpec = {
    name: job.stage,
    group: job.stage,
    kind: job.spec.kind,
    module,
    builtin: job.spec.module !== undefined && 'builtin' in job.spec.module,
    cmd: job.spec.cmd,
    needs: Object.keys(job.needs),
    deps: job.spec.deps,
    params: job.spec.params,
    export: {},
    resources: { gpu: job.spec.gpu },
    seed: job.spec.seed,
    pos: { file: '(job)', line: 1, col: 1 },
    keyPos: {},
  };
  const pipeline = { workdir } as Pipeline; // computeLocal reads only the working folder
  let mine: LocalIngredients;
  try {
    mine = await computeLocal(ctx.session, pipeline, spec);
  } catch (e) {
    return { ok: false, message: `could not read stage ${job.stage}'s code on this worker: ${(e as Error).message}` };
  }
  if (canonicalJson(mine) !== canonicalJson(job.local)) {
    const reasons = explainChange({ ...job.local, needs: {} }, mine);
    return {
      ok: false,
      message: `this worker's view of stage ${job.stage} differs from the run's (${reasons.join('; ') || 'ingredients differ'}): its output would not match the key`,
    };
  }
  return { ok: true, workdir, module };
}

async function readMetrics(dir: string): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await readFile(join(dir, 'metrics.json'), 'utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
}
