/**
 * `tailor worker`: run stages for distributed runs on this machine.
 *
 *   tailor worker --executor redis://HOST:PORT --remote URL [--gpus N] [--concurrency N] [--cache DIR] [--workdir DIR]
 *     a long-running BullMQ worker; Ctrl-C once: finish the running stages and stop; twice: stop
 *     them now and hand their jobs back to the queue; three times: exit at once.
 *   tailor worker --job FILE --remote URL [--cache DIR] [--workdir DIR]
 *     run one job file and write its result beside it (what a Slurm job script runs); SIGTERM
 *     (scancel) stops the stage.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { hostname } from 'node:os';
import { EXIT, UsageError, openSession, printHelp } from '../common.js';
import { SPECS } from '../command-specs.js';
import { parseCommand } from '../options.js';
import { parseCount } from '../run-reporting.js';
import { detectGpus } from '../../run/gpu-pool.js';
import { remoteUrlOf } from '../../distributed/remote-outputs.js';
import { parseRemoteUrl } from '../../remote/remote-url.js';
import { checkRedisUrl } from '../../distributed/redis-names.js';
import { asUsage } from '../../distributed/option-error.js';
import { StageWorker } from '../../distributed/redis-worker.js';
import { parseStageJob, type StageJobResult } from '../../distributed/stage-job.js';
import { runStageJob } from '../../distributed/run-job.js';
import { pendingResolver, resultFileOf, writeJson } from '../../distributed/job-files.js';

export async function workerCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand(SPECS.worker, argv);
  if (parsed.help) return printHelp(SPECS.worker);
  const { values, positionals } = parsed;
  if (positionals.length > 0) throw new UsageError(`worker takes no arguments, got "${positionals[0]}"`);
  const remote = remoteUrlOf(values.remote);
  if (!remote.ok) throw new UsageError(remote.error);
  const checked = parseRemoteUrl(remote.value);
  if (!checked.ok) throw new UsageError(`--remote ${remote.value}: ${checked.error}`);
  const workdir = values.workdir ? resolve(values.workdir) : undefined;
  if (values.job) return runJobFile(resolve(values.job), values.cache, remote.value, workdir);
  if (!values.executor) throw new UsageError('give --executor redis://HOST:PORT (or --job FILE)');
  const executor = values.executor;
  const url = asUsage(
    () => checkRedisUrl(executor),
    (m) => new UsageError(m),
  );
  const gpus = parseCount(values.gpus, '--gpus', detectGpus());
  const concurrency = parseCount(values.concurrency, '--concurrency', Math.max(1, gpus));
  if (concurrency < 1) throw new UsageError('--concurrency must be at least 1');

  const session = await openSession(values.cache); // creates the cache (and fails early if it cannot)
  session.close();
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const worker = new StageWorker({
    redisUrl: url,
    remoteUrl: remote.value,
    cacheDir: session.cacheDir,
    gpus,
    concurrency,
    workdir,
    lockMs: envMs('TAILOR_WORKER_LOCK_MS'),
    stalledMs: envMs('TAILOR_WORKER_STALLED_MS'),
    log,
  });
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      log(`worker: ${sig}: finishing ${worker.running} running stage(s), taking no new ones (again: hand them back)`);
      worker.drain();
    } else if (signals === 2) {
      log(`worker: ${sig} again: stopping the running stages and handing their jobs back`);
      worker.handBack();
    } else process.exit(EXIT.interrupted);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const summary = await worker.run();
    log(`worker: stopped (${summary.done} done, ${summary.failed} failed, ${summary.handedBack} handed back)`);
    return signals > 0 ? EXIT.interrupted : EXIT.ok;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** One job file: the result goes beside it, the stage's output lines to stdout (the job's log). */
async function runJobFile(
  file: string,
  cache: string | undefined,
  remoteUrl: string,
  workdir: string | undefined,
): Promise<number> {
  let data: unknown;
  try {
    data = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`${file}: cannot read the job file: ${(e as Error).message}`);
  }
  const parsed = parseStageJob(data);
  if (!parsed.ok) throw new UsageError(`${file}: not a stage job: ${parsed.error}`);
  const job = parsed.value;
  const slurmId = process.env.SLURM_JOB_ID;
  const worker = slurmId ? `slurm:${slurmId}@${hostname()}` : `${hostname()}:${process.pid}`;
  const controller = new AbortController();
  const stop = (sig: NodeJS.Signals) => {
    process.stdout.write(`tailor worker: ${sig}: stopping stage ${job.stage}\n`);
    controller.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const session = await openSession(cache);
  let result: StageJobResult;
  try {
    process.stdout.write(`tailor worker: ${job.stage} on ${worker}\n`);
    result = await runStageJob(job, {
      session,
      remoteUrl,
      worker,
      workdir,
      signal: controller.signal,
      onLine: (line) => process.stdout.write(line + '\n'),
      onProgress: () => undefined,
      resolvePending: pendingResolver(file, job),
    });
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    session.close();
  }
  if (!result.ok) process.stdout.write(`tailor worker: ${job.stage} failed: ${result.message}\n`);
  await writeJson(resultFileOf(file), result);
  return result.ok ? EXIT.ok : EXIT.failed;
}

function envMs(name: string): number | undefined {
  const v = process.env[name];
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
}
