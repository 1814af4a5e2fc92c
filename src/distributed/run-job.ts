/**
 * Running one StageJob on a worker (a BullMQ worker, or a Slurm job script): what a local run
 * does for one stage, with the inputs coming from the remote and the output going back to it.
 *
 *   resolve needs (pending ones from their results) -> check this machine's view of the stage
 *   (code, deps) against the run's -> key known on the remote? done -> restore inputs into the
 *   worker's cache (hash-checked) -> run with the LocalExecutor (the one stage runner: input
 *   guard, sealed output, process-tree reaping, timeout) -> commit locally -> publish -> result
 *
 * The output is published before the result is handed back, so whoever registers the result
 * can always fetch the output; the remote record is written last, so a worker killed mid-stage
 * or mid-push leaves nothing a reader would take. The check of the worker's view is what keeps
 * "same key, same output" true across machines: a worker with other code or other dep files
 * refuses the job and says what differs, instead of filling the cache under a key that does not
 * describe it.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import type { Pipeline, StageSpec } from '../pipeline/types.js';
import type { LocalIngredients } from '../cache/key-ingredients.js';
import type { Session } from '../run/session.js';
import { computeLocal, fullIngredients } from '../run/plan.js';
import { codeKeyOf, stageKey } from '../run/stage-key.js';
import { canonicalJson } from '../run/canonical-json.js';
import { explainChange } from '../run/explain.js';
import { LocalExecutor } from '../run/local-executor.js';
import { describeError } from '../run/describe-error.js';
import { removeTree } from '../cache/seal.js';
import { builtinStagePath } from '../paths.js';
import { readOutputMetrics } from '../cache/output-metrics.js';
import { openRemoteOutputs, type RemoteOutputs } from './remote-outputs.js';
import { isPending, type ResolvedNeed, type StageJob, type StageJobResult } from './stage-job.js';
import { LineTail } from './line-tail.js';

export interface JobContext {
  /** The worker's own cache. */
  session: Session;
  /** The remote cache outputs move through (--remote). */
  remoteUrl: string;
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
  const remote = await openRemoteOutputs(ctx.remoteUrl, ctx.session);
  if (!remote.ok) return fail(remote.error);
  try {
    return await runWithRemote(job, ctx, remote.value, started, tail, fail);
  } catch (e) {
    return fail(describeError(e));
  } finally {
    await remote.value.close().catch(() => undefined);
  }
}

async function runWithRemote(
  job: StageJob,
  ctx: JobContext,
  remote: RemoteOutputs,
  started: number,
  tail: LineTail,
  fail: (message: string) => StageJobResult,
): Promise<StageJobResult> {
  const needs: Record<string, ResolvedNeed> = {};
  for (const [name, need] of Object.entries(job.needs)) {
    const resolved = isPending(need) ? await ctx.resolvePending?.(need.after) : need;
    if (!resolved) return fail(`upstream ${name} has no result`);
    needs[name] = resolved;
  }
  const ingredients = fullIngredients(
    job.local,
    Object.fromEntries(Object.entries(needs).map(([n, r]) => [n, r.contentHash])),
  );
  const key = stageKey(ingredients);
  if (job.key !== undefined && job.key !== key) return fail(`internal error: job key ${job.key}, computed ${key}`);

  const view = await workerView(job, ctx);
  if (!view.ok) return fail(view.message);

  const done = (
    rec: { treeHash: string; contentHash: string; metrics: Record<string, unknown> },
    from: 'ran' | 'remote',
  ): StageJobResult => ({
    ok: true,
    key,
    treeHash: rec.treeHash,
    contentHash: rec.contentHash,
    metrics: rec.metrics,
    worker: ctx.worker,
    seconds: (Date.now() - started) / 1000,
    from,
    logTail: tail.lines(),
  });

  // A job taken up again after its worker died, or run twice: the first published output stands.
  const known = await remote.lookup(key);
  if (known) return done(known, 'remote');

  const inputs: Record<string, string> = {};
  for (const [name, need] of Object.entries(needs)) {
    const restored = await remote.restore(need.key, { pipeline: job.pipeline, stage: name });
    if (!restored.ok)
      return fail(
        `input ${name} (output ${need.treeHash.slice(0, 12)}) is not usable on ${remote.url}: ${restored.message}`,
      );
    inputs[name] = restored.treeHash;
  }

  const { session } = ctx;
  const executor = new LocalExecutor({ store: session.store, stateDir: (s) => session.stateDir(s) });
  const logPath = join(session.logsDir(), `${job.run}-${job.stage.replace(/[^A-Za-z0-9._@-]/g, '_')}.log`);
  const execution = await executor.run(
    {
      pipeline: job.pipeline,
      stage: job.stage,
      kind: job.spec.kind,
      module: view.module,
      cmd: job.spec.cmd,
      params: job.spec.params,
      key,
      codeKey: codeKeyOf(job.local),
      inputs,
      seed: job.spec.seed,
      // Under Slurm the node's CUDA_VISIBLE_DEVICES (its gres allocation) stays the stage's.
      env: { ...job.env, ...(ctx.gpuIds ? {} : { CUDA_VISIBLE_DEVICES: process.env.CUDA_VISIBLE_DEVICES ?? '' }) },
      gpuIds: ctx.gpuIds ?? [],
      workdir: view.workdir,
      timeoutSeconds: job.spec.timeout,
    },
    {
      signal: ctx.signal,
      logPath,
      onLine: (line, stream) => {
        tail.push(line);
        ctx.onLine(line, stream);
      },
      onProgress: ctx.onProgress,
    },
  );
  if (!execution.ok) return fail(execution.message);
  if (execution.output.kind !== 'folder') return fail('internal error: the local executor committed elsewhere');

  // The worker's cache has no runs of its own (the run that asked records the stage run): the
  // output is committed and recorded under its key, which is all a publish reads.
  let committed: { treeHash: string; contentHash: string };
  try {
    committed = await session.store.commit(execution.output.dir);
  } catch (e) {
    await removeTree(execution.output.dir).catch(() => undefined);
    return fail(`cannot commit the output: ${describeError(e)}`);
  }
  session.index.outputs.putOutput({
    stageKey: key,
    treeHash: committed.treeHash,
    contentHash: committed.contentHash,
    pipeline: job.pipeline,
    stage: job.stage,
    ingredients,
    metrics: await readOutputMetrics(session.store.pathOf(committed.treeHash)),
    createdAt: Date.now(),
    seconds: (Date.now() - started) / 1000,
  });
  const pushProblem = await remote.publish(key, job.stage);
  if (pushProblem) return fail(`ran, but could not publish the output: ${pushProblem}`);
  // Another worker may have published first (a stage that is not bit-reproducible): that one stands.
  const published = await remote.lookup(key);
  if (!published) return fail(`ran, but ${remote.url} has no record of the output after the push`);
  return done(published, 'ran');
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
  const computed = await computeLocal(ctx.session, pipeline, spec);
  if (!computed.ok) return { ok: false, message: `on this worker: ${computed.error}` };
  const mine: LocalIngredients = computed.value;
  if (canonicalJson(mine) !== canonicalJson(job.local)) {
    const reasons = explainChange({ ...job.local, needs: {} }, mine);
    return {
      ok: false,
      message: `this worker's view of stage ${job.stage} differs from the run's (${reasons.join('; ') || 'ingredients differ'}): its output would not match the key`,
    };
  }
  return { ok: true, workdir, module };
}
