/**
 * The local executor: runs a job on this machine, its inputs the store's folders, its output a
 * fresh temp folder of the store that the caller commits. A cmd stage is a shell spawned right
 * here (cmd-process.ts), a module stage a Node child (module-process.ts).
 */
import { lstatSync } from 'node:fs';
import type { ObjectStore } from '../cache/content-store.js';
import { watchInputs } from '../cache/input-guard.js';
import { escapingLink } from '../cache/output-links.js';
import { removeTree } from '../cache/seal.js';
import { substituteRuntimePaths } from './cmd-template.js';
import { runCmdProcess } from './cmd-process.js';
import { runModuleProcess } from './module-process.js';
import type { ProcessResult } from './process-result.js';
import { StageLog } from './stage-log.js';
import type { StageExecution, StageExecutor, StageIO, StageJob } from './stage-executor.js';
import { describeError } from './describe-error.js';

export interface LocalExecutorOptions {
  store: ObjectStore;
  /** The persistent state folder of a stage (ctx.state). */
  stateDir(stage: string): string;
  /** Seconds between asking a stage to stop and killing it (default 10). */
  graceSeconds?: number;
}

export class LocalExecutor implements StageExecutor {
  constructor(private readonly opts: LocalExecutorOptions) {}

  async run(job: StageJob, io: StageIO): Promise<StageExecution> {
    let out: string;
    try {
      out = await this.opts.store.newTempDir(job.stage);
    } catch (e) {
      return { ok: false, reason: 'failed', message: `cannot make an output folder: ${describeError(e)}` };
    }
    const log = new StageLog(io.logPath);
    let result: ProcessResult;
    try {
      // Inputs are snapshotted now and checked for tampering when the stage ends (input-guard.ts).
      const inputs = await watchInputs(
        this.opts.store,
        Object.entries(job.inputs).map(([name, treeHash]) => ({ name, treeHash })),
      );
      const ran = await this.start(job, io, out, log);
      // A tampered input, or an output link leading out of the output, fails the stage. (An
      // output folder the stage removed or replaced is the committer's to report.)
      const outIsDir = lstatSync(out, { throwIfNoEntry: false })?.isDirectory() === true;
      const problem = (await inputs.check()) ?? (ran.ok && outIsDir ? escapingLink(out) : undefined);
      result = problem ? { ok: false, reason: 'failed', message: problem } : ran;
    } catch (e) {
      result = { ok: false, reason: 'failed', message: describeError(e) };
    }
    await log.close();
    if (result.ok) return { ok: true, output: { kind: 'folder', dir: out } };
    // removeTree: the output may hold read-only copies of its inputs.
    await removeTree(out).catch(() => undefined);
    return result;
  }

  private start(job: StageJob, io: StageIO, out: string, log: StageLog): Promise<ProcessResult> {
    const { store } = this.opts;
    const needs = Object.fromEntries(Object.entries(job.inputs).map(([name, tree]) => [name, store.pathOf(tree)]));
    const state = this.opts.stateDir(job.stage);
    const env: Record<string, string> = {
      TAILOR_STAGE: job.stage,
      TAILOR_OUT: out,
      TAILOR_STATE: state,
      TAILOR_SEED: String(job.seed),
      CUDA_VISIBLE_DEVICES: job.gpuIds.join(','),
      ...job.env,
    };
    const common = {
      env,
      log,
      signal: io.signal,
      timeoutSeconds: job.timeoutSeconds,
      graceSeconds: this.opts.graceSeconds ?? 10,
      onLine: io.onLine,
    };
    if (job.kind === 'cmd')
      return runCmdProcess({ ...common, cmd: substituteRuntimePaths(job.cmd ?? '', out, needs), cwd: job.workdir });
    const invocation = {
      stage: job.stage,
      params: job.params,
      needs,
      out,
      state,
      codeKey: job.codeKey,
      workdir: job.workdir,
      seed: job.seed,
    };
    return runModuleProcess({ ...common, job: { module: job.module ?? '', invocation }, onProgress: io.onProgress });
  }
}
