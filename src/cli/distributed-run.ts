/**
 * `tailor run --executor redis://HOST:PORT|slurm --remote URL`: the executor a distributed run
 * hands its stages to, made from the command's options. The run itself is the ordinary one
 * (runPipeline); only where stages run changes.
 */
import { join } from 'node:path';
import type { Pipeline } from '../pipeline/types.js';
import type { Session } from '../run/session.js';
import type { StageExecutor } from '../run/stage-executor.js';
import type { DistributedExecutor } from '../distributed/executor.js';
import { openRemoteOutputs, remoteUrlOf } from '../distributed/remote-outputs.js';
import { RemoteStageExecutor } from '../distributed/remote-stage-executor.js';
import { UsageError } from './common.js';
import { asUsage } from '../distributed/option-error.js';

export interface DistributedFlags {
  executor?: string;
  remote?: string;
  'slurm-partition'?: string;
  'slurm-args'?: string;
}

export interface OpenedExecutor {
  executor: StageExecutor;
  close(): Promise<void>;
}

/** The executor `--executor` names, or undefined for a local run. Bad flags are usage errors. */
export async function openDistributed(
  flags: DistributedFlags,
  session: Session,
  pipeline: Pipeline,
): Promise<OpenedExecutor | undefined> {
  if (flags.executor === undefined) {
    if (flags['slurm-partition'] !== undefined || flags['slurm-args'] !== undefined)
      throw new UsageError('--slurm-partition and --slurm-args go with --executor slurm');
    return undefined;
  }
  const url = remoteUrlOf(flags.remote);
  if (!url.ok) throw new UsageError(url.error);
  const inner = await innerExecutor(flags, session, url.value);
  const remote = await openRemoteOutputs(url.value, session);
  if (!remote.ok) {
    await inner.close();
    throw new UsageError(remote.error);
  }
  return {
    executor: new RemoteStageExecutor({ session, pipeline, executor: inner, remote: remote.value }),
    async close() {
      await inner.close();
      await remote.value.close();
    },
  };
}

async function innerExecutor(
  flags: DistributedFlags,
  session: Session,
  remoteUrl: string,
): Promise<DistributedExecutor> {
  const name = flags.executor!;
  if (name === 'slurm') {
    const { SlurmExecutor } = await import('../distributed/slurm-executor.js');
    const { splitSlurmArgs } = await import('../distributed/slurm-script.js');
    return new SlurmExecutor({
      // Job files, results and logs: on one node the cache; on a cluster it must be a shared folder.
      jobDir: process.env.TAILOR_SLURM_DIR ?? join(session.cacheDir, 'slurm'),
      remoteUrl,
      partition: flags['slurm-partition'],
      extraArgs: asUsage(
        () => splitSlurmArgs(flags['slurm-args']),
        (m) => new UsageError(m),
      ),
    });
  }
  if (flags['slurm-partition'] !== undefined || flags['slurm-args'] !== undefined)
    throw new UsageError('--slurm-partition and --slurm-args go with --executor slurm');
  const { checkRedisUrl } = await import('../distributed/redis-names.js');
  const { RedisExecutor } = await import('../distributed/redis-executor.js');
  return new RedisExecutor(
    asUsage(
      () => checkRedisUrl(name),
      (m) => new UsageError(m),
    ),
  );
}
