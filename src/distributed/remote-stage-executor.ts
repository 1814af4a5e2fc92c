/**
 * The StageExecutor of a distributed run (`tailor run --executor redis://…|slurm`): the engine's
 * scheduler and stage runner decide what runs, as for a local run; this executor only moves each
 * job to a worker or a Slurm job and its output back.
 *
 *   upstream outputs pushed to the remote (a stage cached here may not be there yet)
 *     -> the wire job (job-builder.ts: the run's view of code and deps, the upstream keys)
 *     -> BullMQ / Slurm (executor.ts) -> a worker runs it with the LocalExecutor and publishes
 *     -> the output restored from the remote into this cache (hash-checked) -> 'committed'
 *
 * The stage key is the engine's: the wire job's key is recomputed from the same ingredients and
 * must agree, and the worker checks its own view against them. The log lines the worker sends
 * back go to the stage's log file here, as a local stage's do.
 */
import { randomBytes } from 'node:crypto';
import type { Pipeline } from '../pipeline/types.js';
import type { Session } from '../run/session.js';
import type { StageExecution, StageExecutor, StageIO, StageJob } from '../run/stage-executor.js';
import { StageLog } from '../run/stage-log.js';
import { describeError } from '../run/describe-error.js';
import type { DistributedExecutor } from './executor.js';
import { buildStageJob } from './job-builder.js';
import type { RemoteOutputs } from './remote-outputs.js';
import type { ResolvedNeed } from './stage-job.js';

export interface RemoteStageExecutorOptions {
  session: Session;
  pipeline: Pipeline;
  executor: DistributedExecutor;
  /** The remote over the run's own cache. */
  remote: RemoteOutputs;
}

export class RemoteStageExecutor implements StageExecutor {
  /** GPUs are the workers' (or Slurm's gres) to hand out, not this machine's. */
  readonly placesGpus = true;
  /** One token per run: job ids and cancellation are per run. */
  private readonly runToken = randomBytes(6).toString('hex');

  constructor(private readonly opts: RemoteStageExecutorOptions) {}

  async run(job: StageJob, io: StageIO): Promise<StageExecution> {
    const log = new StageLog(io.logPath);
    let worker: string | undefined;
    try {
      const outcome = await this.runRemote(job, io, log, (w) => (worker = w));
      return outcome.ok ? outcome : { ...outcome, worker: outcome.worker ?? worker };
    } catch (e) {
      return { ok: false, reason: 'failed', message: describeError(e), worker };
    } finally {
      await log.close();
    }
  }

  private async runRemote(
    job: StageJob,
    io: StageIO,
    log: StageLog,
    onWorker: (w: string) => void,
  ): Promise<StageExecution> {
    const { session, pipeline, remote, executor } = this.opts;
    const spec = pipeline.stages.find((s) => s.name === job.stage);
    if (!spec) return { ok: false, reason: 'failed', message: `internal error: no stage ${job.stage}` };
    const say = (line: string) => {
      log.write(line);
      io.onLine(line, 'stderr');
    };

    const needs: Record<string, ResolvedNeed> = {};
    for (const [name, treeHash] of Object.entries(job.inputs)) {
      const latest = session.index.outputs.getLatest(pipeline.name, name);
      if (latest?.treeHash !== treeHash)
        return {
          ok: false,
          reason: 'failed',
          message: `internal error: input ${name} is not its stage's latest output`,
        };
      const problem = await remote.publish(latest.stageKey, name);
      if (problem) return { ok: false, reason: 'failed', message: `input ${name} is not on the remote: ${problem}` };
      needs[name] = { key: latest.stageKey, treeHash, contentHash: latest.contentHash ?? treeHash };
    }
    const wire = await buildStageJob(session, pipeline, spec, this.runToken, needs);
    if (!wire.ok) return { ok: false, reason: 'failed', message: wire.error };
    if (wire.value.key !== job.key)
      return { ok: false, reason: 'failed', message: `internal error: job key ${wire.value.key}, run key ${job.key}` };

    say(`tailor: ${job.stage} queued on ${executor.name}`);
    const result = await executor.run(wire.value, {
      signal: io.signal,
      onStart: (w) => {
        onWorker(w);
        say(`tailor: ${job.stage} running on ${w}`);
      },
      onLine: (line) => {
        log.write(line);
        io.onLine(line, 'stdout');
      },
      onProgress: io.onProgress,
      onNotice: say,
    });
    if (!result.ok) {
      const reason = io.signal.aborted ? 'interrupted' : 'failed';
      return { ok: false, reason, message: result.message, worker: result.worker };
    }
    const restored = await remote.restore(result.key, { pipeline: pipeline.name, stage: job.stage });
    if (!restored.ok)
      return {
        ok: false,
        reason: 'failed',
        message: `ran on ${result.worker}, but its output cannot be brought from ${remote.url}: ${restored.message}`,
        worker: result.worker,
      };
    return { ok: true, output: { kind: 'committed', treeHash: restored.treeHash }, worker: result.worker };
  }
}
