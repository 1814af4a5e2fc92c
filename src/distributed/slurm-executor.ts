/**
 * The Slurm executor: each stage becomes an sbatch job running `tailor worker --job FILE` on a
 * node; GPU stages ask for `--gres=gpu:N` (Slurm picks the devices and sets
 * CUDA_VISIBLE_DEVICES), and a stage whose upstream is still queued or running is submitted at
 * once with `--dependency=afterok:<upstream job>`: the whole ready chain goes to Slurm's own
 * scheduler, and the stage computes its key on the node from the upstream's result file.
 *
 * One poll loop (squeue for every tracked job in one call) follows the jobs:
 *
 *   PENDING --> RUNNING (onStart "slurm:<id>") --> COMPLETED --> result file --> ok
 *      ^            |                          \-> FAILED/CANCELLED/TIMEOUT/NODE_FAIL/... --> failed, with
 *      \--requeued--/  (notice; same job id, log appended)    State, Reason and ExitCode from scontrol/sacct
 *
 * and tails each job's --output file back as log lines. Files live in `jobDir`, which the nodes
 * must see (a shared filesystem, as on every cluster). Ctrl-C scancels the run's jobs.
 */
import { mkdir, open, rm, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import type { DistributedExecutor, ExecHooks } from './executor.js';
import { isPending, type StageJob, type StageJobResult } from './stage-job.js';
import { jobFileOf, logFileOf, readResult, resultFileOf, writeJson } from './job-files.js';
import { jobScript, sbatchArgs } from './slurm-script.js';
import { TERMINAL, jobDetail, sbatch, scancel, squeueStates, type SlurmEnv } from './slurm-cli.js';
import { LineTail } from './line-tail.js';
import { onAbort } from './abort-fanout.js';

export interface SlurmExecutorOptions extends SlurmEnv {
  /** Job files, results and logs: a folder every node sees. */
  jobDir: string;
  remoteUrl: string;
  partition?: string;
  extraArgs?: string[];
  nodeCache?: string;
  workdir?: string;
  pollMs?: number;
}

interface Tracked {
  slurmId: string;
  job: StageJob;
  jobFile: string;
  hooks: ExecHooks;
  resolve(result: StageJobResult): void;
  started: number;
  running: boolean;
  restarts: number;
  logOffset: number;
  partial: string;
  tail: LineTail;
  cancelled: boolean;
  detach?: () => void;
  /** When a failure state was first seen: it must hold a moment, since a job being requeued can pass through one. */
  failedSince?: number;
}

const CONFIRM_FAILURE_MS = 1500;

export class SlurmExecutor implements DistributedExecutor {
  readonly name = 'slurm';
  readonly acceptsPending = true;
  /** Stage name -> its Slurm job id (undefined if it could not be submitted), per run token. */
  private readonly submitted = new Map<string, Promise<string | undefined>>();
  private readonly tracked = new Map<string, Tracked>();
  private timer?: NodeJS.Timeout;
  private polling = false;

  constructor(private readonly opts: SlurmExecutorOptions) {}

  run(job: StageJob, hooks: ExecHooks): Promise<StageJobResult> {
    let markSubmitted!: (id: string | undefined) => void;
    this.submitted.set(`${job.run}/${job.stage}`, new Promise((r) => (markSubmitted = r)));
    return this.submit(job, hooks).then(
      (r) => {
        markSubmitted(r.slurmId);
        return r.result;
      },
      (e: Error) => {
        markSubmitted(undefined);
        return { ok: false, message: e.message, worker: '', seconds: 0, logTail: [] };
      },
    );
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async submit(
    job: StageJob,
    hooks: ExecHooks,
  ): Promise<{ slurmId?: string; result: Promise<StageJobResult> | StageJobResult }> {
    const fail = (message: string): { result: StageJobResult } => ({
      result: { ok: false, message, worker: '', seconds: 0, logTail: [] },
    });
    const dir = join(this.opts.jobDir, job.run);
    await mkdir(dir, { recursive: true });
    const jobFile = jobFileOf(dir, job.run, job.stage);
    const afterOk: string[] = [];
    for (const [name, need] of Object.entries(job.needs)) {
      if (!isPending(need)) continue;
      const id = await this.submitted.get(`${job.run}/${need.after}`);
      if (!id) return fail(`upstream ${name} was not submitted to Slurm`);
      afterOk.push(id);
    }
    if (hooks.signal.aborted) return fail('interrupted');
    await rm(resultFileOf(jobFile), { force: true });
    await writeJson(jobFile, job);
    const script = jobFile.replace(/\.job\.json$/, '.sh');
    await writeFile(
      script,
      jobScript({
        stage: job.stage,
        run: job.run,
        jobFile,
        remoteUrl: this.opts.remoteUrl,
        nodeCache: this.opts.nodeCache,
        workdir: this.opts.workdir,
      }),
    );
    await chmod(script, 0o755);
    const logFile = logFileOf(jobFile);
    const id = await sbatch(
      sbatchArgs({
        stage: job.stage,
        gpus: job.spec.gpu,
        afterOk,
        logFile,
        jobDir: dir,
        partition: this.opts.partition,
        extraArgs: this.opts.extraArgs ?? [],
        script,
      }),
      this.opts,
    );
    if (!id.ok) return fail(`stage ${job.stage} could not be submitted: ${id.error}`);
    const result = new Promise<StageJobResult>((resolve) => {
      const t: Tracked = {
        slurmId: id.value,
        job,
        jobFile,
        hooks,
        resolve,
        started: Date.now(),
        running: false,
        restarts: 0,
        logOffset: 0,
        partial: '',
        tail: new LineTail(40),
        cancelled: false,
      };
      this.tracked.set(id.value, t);
      t.detach = onAbort(hooks.signal, () => {
        t.cancelled = true;
        void scancel([t.slurmId], this.opts);
      });
      this.timer ??= setInterval(() => void this.poll(), this.opts.pollMs ?? 500);
    });
    return { slurmId: id.value, result };
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const states = await squeueStates([...this.tracked.keys()], this.opts);
      if (!states.ok) return;
      for (const t of [...this.tracked.values()]) {
        await this.followLog(t);
        const s = states.value.get(t.slurmId);
        const state = s?.state ?? 'GONE';
        if (state === 'RUNNING' && !t.running) {
          t.running = true;
          t.hooks.onStart?.(`slurm:${t.slurmId}`);
        } else if (state === 'PENDING' && (t.running || t.failedSince !== undefined)) {
          t.running = false;
          t.failedSince = undefined;
          t.restarts++;
          t.hooks.onNotice?.(`${t.job.stage}: slurm job ${t.slurmId} was requeued (${s?.reason ?? ''}); it runs again`);
        }
        if (state === 'COMPLETED' || ((TERMINAL.has(state) || state === 'GONE') && t.cancelled))
          await this.finish(t, state);
        else if (TERMINAL.has(state) || state === 'GONE') {
          t.failedSince ??= Date.now();
          if (Date.now() - t.failedSince >= CONFIRM_FAILURE_MS) await this.finish(t, state);
        } else t.failedSince = undefined;
      }
    } finally {
      this.polling = false;
      if (this.tracked.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    }
  }

  private async finish(t: Tracked, state: string): Promise<void> {
    this.tracked.delete(t.slurmId);
    t.detach?.();
    await this.followLog(t, true);
    const result = await readResult(resultFileOf(t.jobFile));
    const seconds = (Date.now() - t.started) / 1000;
    const worker = `slurm:${t.slurmId}`;
    if (state === 'COMPLETED' && result?.ok) return t.resolve(result);
    if (t.cancelled) return t.resolve({ ok: false, message: 'interrupted', worker, seconds, logTail: t.tail.lines() });
    const d = await jobDetail(t.slurmId, this.opts);
    const why = d
      ? `slurm job ${t.slurmId} ${d.state || state} (reason ${d.reason || 'None'}, exit code ${d.exitCode || '?'}${d.nodes ? `, on ${d.nodes}` : ''})`
      : `slurm job ${t.slurmId} left the queue without a state (no accounting to ask)`;
    const detail = result && !result.ok ? `: ${result.message}` : state === 'COMPLETED' ? ': it wrote no result' : '';
    t.resolve({ ok: false, message: why + detail, worker, seconds, logTail: t.tail.lines() });
  }

  /** Pass new lines of the job's --output file on (a partial last line waits for its end). */
  private async followLog(t: Tracked, final = false): Promise<void> {
    const fh = await open(logFileOf(t.jobFile), 'r').catch(() => undefined);
    if (!fh) return;
    try {
      const size = (await fh.stat()).size;
      if (size < t.logOffset) t.logOffset = 0;
      if (size === t.logOffset && !final) return;
      const buf = Buffer.alloc(size - t.logOffset);
      await fh.read(buf, 0, buf.length, t.logOffset);
      t.logOffset = size;
      const lines = (t.partial + buf.toString('utf8')).split('\n');
      t.partial = final ? '' : (lines.pop() ?? '');
      for (const line of lines) {
        if (final && line === '') continue;
        t.tail.push(line);
        t.hooks.onLine?.(line);
      }
    } finally {
      await fh.close();
    }
  }
}
