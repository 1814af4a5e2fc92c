/**
 * The local seam of the distributed executors: what the run use case calls for a stage that
 * runs elsewhere. Kept small on purpose so it maps onto the engine's StageExecutor (src/run)
 * once that exists: the engine builds a StageJob (job-builder.ts), hands it to run(), and
 * registers the result (adopt-result.ts). Keys and staleness stay in the engine; an executor
 * only moves a job to a machine and a result back.
 */
import type { StageJob, StageJobResult } from './stage-job.js';

export interface ExecHooks {
  signal: AbortSignal;
  /** A worker (or Slurm job) took the stage; called again if another one takes it up. */
  onStart?(worker: string): void;
  onLine?(line: string): void;
  onProgress?(done: number, total: number, label?: string): void;
  onNotice?(message: string): void;
}

export interface DistributedExecutor {
  /** `redis://host:port` or `slurm`, for messages. */
  readonly name: string;
  /**
   * Whether run() takes a job whose needs are still running in this executor (`{ after: stage }`):
   * Slurm orders them itself (afterok), so a run can submit a whole chain at once.
   */
  readonly acceptsPending: boolean;
  run(job: StageJob, hooks: ExecHooks): Promise<StageJobResult>;
  close(): Promise<void>;
}
