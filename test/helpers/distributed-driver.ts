/**
 * Runs a pipeline the way `tailor run --executor …` does, in-process so that tests can watch it:
 * runPipeline with the RemoteStageExecutor over a DistributedExecutor (BullMQ or Slurm). The
 * executor is wrapped only to see which worker took each stage and whether the worker ran it or
 * found it published already (`from`).
 */
import { resolve } from 'node:path';
import { loadPipeline } from '../../src/pipeline/load.js';
import type { Pipeline } from '../../src/pipeline/types.js';
import { Session } from '../../src/run/session.js';
import { runPipeline } from '../../src/run/run-pipeline.js';
import type { DistributedExecutor } from '../../src/distributed/executor.js';
import { openRemoteOutputs } from '../../src/distributed/remote-outputs.js';
import { RemoteStageExecutor } from '../../src/distributed/remote-stage-executor.js';

export interface DriverOutcome {
  name: string;
  action: 'ran' | 'cached' | 'failed' | 'skipped';
  worker?: string;
  from?: 'ran' | 'remote';
  key?: string;
  treeHash?: string;
  contentHash?: string;
  message?: string;
  /** The last lines of the job's log, as the worker sent them back. */
  logTail?: string[];
  seconds: number;
}

export interface DriverOptions {
  cacheDir: string;
  executor: DistributedExecutor;
  remoteUrl: string;
  signal?: AbortSignal;
  jobs?: number;
  onLine?(stage: string, line: string): void;
  onNotice?(message: string): void;
  onStart?(stage: string, worker: string): void;
}

export function loadOrThrow(file: string, workdir: string): Pipeline {
  const loaded = loadPipeline(resolve(workdir, file), { workdir });
  if (!loaded.ok) throw new Error(loaded.error.map((d) => d.message).join('\n'));
  return loaded.value;
}

export async function runDistributed(pipeline: Pipeline, opts: DriverOptions): Promise<Record<string, DriverOutcome>> {
  const session = await Session.open(opts.cacheDir);
  const from = new Map<string, 'ran' | 'remote'>();
  const tails = new Map<string, string[]>();
  const watched: DistributedExecutor = {
    name: opts.executor.name,
    acceptsPending: opts.executor.acceptsPending,
    close: () => opts.executor.close(),
    async run(job, hooks) {
      const result = await opts.executor.run(job, {
        ...hooks,
        onStart: (w) => {
          hooks.onStart?.(w);
          opts.onStart?.(job.stage, w);
        },
        onNotice: (m) => {
          hooks.onNotice?.(m);
          opts.onNotice?.(m);
        },
        onLine: (l) => {
          hooks.onLine?.(l);
          opts.onLine?.(job.stage, l);
        },
      });
      tails.set(job.stage, result.logTail);
      if (result.ok) from.set(job.stage, result.from);
      return result;
    },
  };
  const remote = await openRemoteOutputs(opts.remoteUrl, session);
  if (!remote.ok) throw new Error(remote.error);
  try {
    const executor = new RemoteStageExecutor({ session, pipeline, executor: watched, remote: remote.value });
    const report = await runPipeline(session, pipeline, {
      signal: opts.signal ?? new AbortController().signal,
      emit: (e) => {
        if (e.type === 'notice') opts.onNotice?.(e.message);
      },
      jobs: opts.jobs ?? 8,
      executor,
    });
    if (!report.ok) throw new Error(`run failed: ${JSON.stringify(report.error)}`);
    return Object.fromEntries(
      report.value.outcomes.map((o) => [
        o.name,
        {
          name: o.name,
          action: o.action,
          worker: o.worker,
          from: o.action === 'ran' ? from.get(o.name) : o.from,
          key: o.key,
          treeHash: o.treeHash,
          contentHash: o.contentHash,
          message: o.reasons?.join('; '),
          logTail: tails.get(o.name),
          seconds: o.seconds,
        },
      ]),
    );
  } finally {
    await remote.value.close();
    session.close();
  }
}
