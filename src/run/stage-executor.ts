/**
 * The seam between scheduling and running a stage. The scheduler hands an executor a job that
 * says everything the stage needs — definition, params, key, the tree hashes of its inputs,
 * seed, environment, GPU ids — and gets back ok with the output, or a failure in one line. The
 * local executor runs the stage here as a child process; a queue or cluster executor runs it
 * elsewhere and hands back an output it already committed (to a store both can read).
 *
 * Keys, staleness and what gets committed never depend on which executor ran a stage: the key
 * is computed before the job is made, and the output is known by its tree hash.
 */
import type { StageSpec } from '../pipeline/types.js';

/** A stage to run, described so that it could run on another machine. */
export interface StageJob {
  /** Pipeline id and stage name (logs, worker bookkeeping). */
  pipeline: string;
  stage: string;
  kind: StageSpec['kind'];
  /** Absolute path of the stage module (kind 'module'). */
  module?: string;
  /** The command after templating, `${out}` and `${needs.NAME}` still to fill in (kind 'cmd'). */
  cmd?: string;
  /** Params as written (module stages get schema defaults filled in by the child). */
  params: Record<string, unknown>;
  /** The stage key the output will be committed under. */
  key: string;
  /** Hash of the stage's code fingerprint: keys item caches and checkpoints (ctx.codeKey). */
  codeKey: string;
  /** Upstream stage name -> tree hash of its output. */
  inputs: Record<string, string>;
  seed: number;
  /** Environment for the stage process, on top of the executor's own TAILOR_* variables. */
  env: Record<string, string>;
  /** GPU device ids the stage holds (CUDA_VISIBLE_DEVICES). */
  gpuIds: number[];
  /** Where a cmd runs and relative paths resolve. */
  workdir: string;
  /** Wall-clock limit (the stage's `timeout:`), none when undefined. */
  timeoutSeconds?: number;
}

/** Where a job's events go while it runs. */
export interface StageIO {
  signal: AbortSignal;
  /** The log file of this stage run (on the machine the engine runs on). */
  logPath: string;
  onLine(line: string, stream: 'stdout' | 'stderr'): void;
  onProgress(done: number, total: number, label?: string): void;
}

/** What a successful job leaves: a folder for the engine to commit, or an output already committed. */
export type StageOutput = { kind: 'folder'; dir: string } | { kind: 'committed'; treeHash: string };

export type FailureReason = 'failed' | 'interrupted' | 'timeout';

export type StageExecution =
  | { ok: true; output: StageOutput; worker?: string }
  | { ok: false; reason: FailureReason; message: string; worker?: string };

export interface StageExecutor {
  /**
   * The executor finds GPUs itself (a queue worker or cluster node that has them): the scheduler
   * then holds none of this machine's for the stage, and `gpuIds` is empty.
   */
  readonly placesGpus?: boolean;
  /**
   * Run one job. Never rejects for anything the stage or the machine did (that is a failed
   * execution). A folder handed back belongs to the caller; on failure the executor has
   * removed whatever it created.
   */
  run(job: StageJob, io: StageIO): Promise<StageExecution>;
}
