/**
 * The run use case: bring a loaded pipeline up to date in an open cache. `tailor run`, `exp run`,
 * the experiment queue, `watch` and `verify` all come through here; none of them holds a lock,
 * a run record or a temp folder of its own.
 *
 *   select stages ─> check params ─> take the cache lock ─> close runs left `running` by a killed
 *   tailor ─> begin the run record ─> clean temp folders of dead runs ─> schedule ─> end the run
 *   record ─> update the lock file (when asked, after a clean run) ─> release the lock
 *
 * Expected failures are values: an unknown stage, bad params, a held lock, a damaged or full
 * cache come back as a RunFailure with one message; failed stages are outcomes of a run that
 * happened. Cancellation is the caller's AbortSignal (the CLI turns SIGINT/SIGTERM into it);
 * losing the lock to another process aborts the run too, and nothing is committed after that.
 */
import { hostname } from 'node:os';
import { acquireRunLock, type RunLock } from '../cache/run-lock.js';
import { checkStageParams } from '../pipeline/check-params.js';
import type { Diagnostic, Pipeline } from '../pipeline/types.js';
import { err, ok, type Result } from '../result.js';
import { describeError, indexDamageMessage, isIndexDamage } from './describe-error.js';
import type { EmitEvent, StageOutcome } from './events.js';
import { GpuPool, detectGpus } from './gpu-pool.js';
import { LocalExecutor } from './local-executor.js';
import { updateLockFile } from './lock-file.js';
import { schedulePipeline } from './scheduler.js';
import type { Session } from './session.js';
import type { StageExecutor } from './stage-executor.js';
import type { RunHooks } from './stage-runner.js';
import { selectStages } from './stage-selection.js';

export interface RunOptions {
  signal: AbortSignal;
  emit: EmitEvent;
  /** Stages at once (default 2). */
  jobs?: number;
  /** Run only these stages and what they need (foreach group names expand). */
  stages?: string[];
  /** Run these even when their output is known. */
  force?: string[];
  forceAll?: boolean;
  /** How long to wait for another run's lock (default 0: fail at once). */
  waitSeconds?: number;
  /** Experiment name recorded with the run. */
  experiment?: string;
  /** The command line recorded with the run (default: this process's). */
  argv?: string[];
  /** Update `pipelines/NAME.lock.json` after a run where nothing failed (plain runs only). */
  writeLockFile?: boolean;
  /** Write `export:` targets into the workspace (default true; verify does not). */
  exports?: boolean;
  /** Replace export targets a person edited (default: keep them and say so). */
  overwriteExports?: boolean;
  /** Where stages run (default: child processes here). */
  executor?: StageExecutor;
  /** The remote-cache seams (restore before running, after each commit). */
  hooks?: RunHooks;
  gpus?: GpuPool;
}

export interface RunReport {
  runId: number;
  /** One per stage that ended (stages never started after an abort have none). */
  outcomes: StageOutcome[];
  seconds: number;
  interrupted: boolean;
  /** Another process took the cache lock over while this run was paused (nothing committed since). */
  lockLost: boolean;
  failed: boolean;
}

export type RunFailure =
  /** An unknown stage name (with the nearest one). */
  | { kind: 'usage'; message: string }
  /** Params that do not match their stage's schema, at their YAML positions. */
  | { kind: 'params'; diagnostics: Diagnostic[] }
  /** Another run holds the cache. */
  | { kind: 'locked'; message: string }
  /** The cache or the file system is not usable (damaged index, full disk, permissions). */
  | { kind: 'environment'; message: string };

export async function runPipeline(
  session: Session,
  pipeline: Pipeline,
  opts: RunOptions,
): Promise<Result<RunReport, RunFailure>> {
  const selection = selectStages(pipeline, opts);
  if (!selection.ok) return err({ kind: 'usage', message: selection.error });
  const paramErrors = await checkStageParams(pipeline);
  if (paramErrors.length > 0) return err({ kind: 'params', diagnostics: paramErrors });

  const lockLost = new AbortController();
  let acquired: Awaited<ReturnType<typeof acquireRunLock>>;
  try {
    acquired = await acquireRunLock(session.cacheDir, {
      waitSeconds: opts.waitSeconds ?? 0,
      argv: opts.argv,
      onWait: (holder) => opts.emit({ type: 'notice', message: `waiting for the cache lock, ${holder.message}` }),
      onLost: (holder) => {
        opts.emit({
          type: 'notice',
          message: `lost the cache lock${holder ? ` (now ${holder.message})` : ''}: stopping, committing nothing more`,
        });
        lockLost.abort('lock lost');
      },
    });
  } catch (e) {
    return err({ kind: 'environment', message: `cannot take the cache lock: ${describeError(e)}` });
  }
  if (!acquired.ok)
    return err({ kind: 'locked', message: `the cache ${session.cacheDir} is in use: ${acquired.error.message}` });
  const lock = acquired.value;
  try {
    return ok(await runLocked(session, pipeline, opts, lock, lockLost, selection.value));
  } catch (e) {
    const message = isIndexDamage(e) ? indexDamageMessage(session.cacheDir, e) : describeError(e);
    return err({ kind: 'environment', message });
  } finally {
    lock.release();
  }
}

async function runLocked(
  session: Session,
  pipeline: Pipeline,
  opts: RunOptions,
  lock: RunLock,
  lockLost: AbortController,
  selection: { selected: Set<string>; force(name: string): boolean },
): Promise<RunReport> {
  const started = Date.now();
  const { runs } = session.index;
  const signal = AbortSignal.any([opts.signal, lockLost.signal]);
  // Holding the lock, no other run is live: a row still `running` belongs to a killed tailor.
  runs.closeDanglingRuns();
  const runId = runs.beginRun({
    pipeline: pipeline.name,
    argv: opts.argv ?? process.argv.slice(2),
    host: hostname(),
    pid: process.pid,
    experiment: opts.experiment,
    params: Object.fromEntries(pipeline.stages.map((s) => [s.name, s.params])),
  });
  let status: 'ok' | 'failed' | 'interrupted' = 'failed';
  try {
    const cleaned = await session.store.cleanupTemp();
    if (cleaned > 0)
      opts.emit({
        type: 'notice',
        message: `removed ${cleaned} unfinished output folder(s) left by an interrupted run`,
      });
    const jobs = Math.max(1, opts.jobs ?? 2);
    opts.emit({ type: 'run-start', pipeline: pipeline.name, stages: selection.selected.size, jobs });
    const outcomes = await schedulePipeline(
      {
        session,
        pipeline,
        runId,
        executor: opts.executor ?? new LocalExecutor({ store: session.store, stateDir: (s) => session.stateDir(s) }),
        hooks: opts.hooks ?? {},
        signal,
        emit: opts.emit,
        force: selection.force,
        exports: opts.exports ?? true,
        overwriteExports: opts.overwriteExports ?? false,
        commitGuard: () => (lock.stillHeld() ? undefined : 'this run lost the cache lock to another process'),
      },
      { jobs, selected: selection.selected, gpus: opts.gpus ?? new GpuPool(detectGpus()) },
    );
    const interrupted = signal.aborted;
    const failed = outcomes.some((o) => o.action === 'failed');
    status = interrupted ? 'interrupted' : failed ? 'failed' : 'ok';
    opts.emit({ type: 'run-end', outcomes, seconds: (Date.now() - started) / 1000, interrupted });
    if (opts.writeLockFile && status === 'ok') await updateLockFile(session, pipeline);
    return {
      runId,
      outcomes,
      seconds: (Date.now() - started) / 1000,
      interrupted,
      lockLost: lockLost.signal.aborted,
      failed,
    };
  } finally {
    // Left `running` when the index cannot be written or the lock was lost: the next run that
    // takes the lock closes it as interrupted.
    if (!lockLost.signal.aborted) {
      try {
        runs.endRun(runId, status);
      } catch {
        // see above
      }
    }
  }
}
