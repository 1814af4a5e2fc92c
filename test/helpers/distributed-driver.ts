/**
 * Phase-A driver for the distributed executors: runs a pipeline's stages through a
 * DistributedExecutor the way `tailor run --executor` will once it is wired into runPipeline
 * (which then replaces this file): key each stage when its upstream outputs are known, reuse a
 * cached output, else hand a StageJob to the executor and adopt its result into the run's
 * cache. With an executor that accepts pending needs (Slurm), a stage is submitted as soon as
 * its upstream stages are submitted, and the executor orders them (afterok).
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { loadPipeline } from '../../src/pipeline/load.js';
import type { Pipeline } from '../../src/pipeline/types.js';
import { Session } from '../../src/run/session.js';
import { exportOutputs } from '../../src/run/export-outputs.js';
import type { DistributedExecutor } from '../../src/distributed/executor.js';
import type { RemoteOutputs } from '../../src/distributed/remote-outputs.js';
import { adoptResult, buildStageJob } from '../../src/distributed/job-builder.js';
import type { JobNeed } from '../../src/distributed/stage-job.js';

export interface DriverOutcome {
  name: string;
  action: 'ran' | 'cached' | 'failed' | 'skipped';
  worker?: string;
  from?: 'ran' | 'remote';
  key?: string;
  treeHash?: string;
  contentHash?: string;
  message?: string;
  logTail?: string[];
  seconds: number;
}

export interface DriverOptions {
  cacheDir: string;
  executor: DistributedExecutor;
  remote: RemoteOutputs;
  signal?: AbortSignal;
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
  const run = randomBytes(6).toString('hex');
  const signal = opts.signal ?? new AbortController().signal;
  const finished = new Map<string, Promise<DriverOutcome>>();
  const outcomes = new Map<string, DriverOutcome>();
  /** Resolves once the stage is handed to the executor (or known without it). */
  const submitted = new Map<string, Promise<void>>();

  const process1 = async (name: string, markSubmitted: () => void): Promise<DriverOutcome> => {
    const spec = pipeline.stages.find((s) => s.name === name)!;
    const t0 = Date.now();
    const took = (o: Omit<DriverOutcome, 'seconds' | 'name'>): DriverOutcome => ({
      name,
      seconds: (Date.now() - t0) / 1000,
      ...o,
    });
    const eager = opts.executor.acceptsPending;
    await Promise.all(spec.needs.map((n) => (eager ? submitted.get(n)! : finished.get(n)!)));
    const needs: Record<string, JobNeed> = {};
    for (const n of spec.needs) {
      const settled = outcomes.get(n);
      if (settled && (settled.action === 'failed' || settled.action === 'skipped')) {
        markSubmitted();
        return took({ action: 'skipped', message: `upstream ${n} ${settled.action}` });
      }
      needs[n] = settled
        ? { key: settled.key!, treeHash: settled.treeHash!, contentHash: settled.contentHash! }
        : { after: n };
    }
    const job = await buildStageJob(session, pipeline, spec, run, needs);
    const known = job.key ? session.index.getOutput(job.key) : undefined;
    if (known && session.store.exists(known.treeHash)) {
      markSubmitted();
      session.index.setLatest(pipeline.name, name, known.stageKey);
      return took({
        action: 'cached',
        key: known.stageKey,
        treeHash: known.treeHash,
        contentHash: known.contentHash ?? known.treeHash,
      });
    }
    const resultP = opts.executor.run(job, {
      signal,
      onStart: (w) => opts.onStart?.(name, w),
      onLine: (l) => opts.onLine?.(name, l),
      onNotice: (m) => opts.onNotice?.(m),
    });
    markSubmitted();
    const result = await resultP;
    if (!result.ok) {
      const upstreamFailed = await Promise.all(spec.needs.map((n) => finished.get(n)!));
      const bad = upstreamFailed.find((o) => o.action === 'failed' || o.action === 'skipped');
      if (bad) return took({ action: 'skipped', message: `upstream ${bad.name} ${bad.action}` });
      return took({ action: 'failed', message: result.message, worker: result.worker, logTail: result.logTail });
    }
    const adopted = await adoptResult(session, opts.remote, name, result);
    if (!adopted.ok) return took({ action: 'failed', message: adopted.error, worker: result.worker });
    session.index.setLatest(pipeline.name, name, result.key);
    await exportOutputs(spec, session.store.pathOf(result.treeHash), pipeline.workdir);
    return took({ action: 'ran', ...result });
  };

  try {
    for (const spec of pipeline.stages) {
      let markSubmitted!: () => void;
      submitted.set(spec.name, new Promise<void>((r) => (markSubmitted = r)));
      finished.set(
        spec.name,
        process1(spec.name, markSubmitted)
          .catch((e: Error): DriverOutcome => {
            markSubmitted();
            return { name: spec.name, action: 'failed', message: e.stack ?? e.message, seconds: 0 };
          })
          .then((o) => {
            outcomes.set(spec.name, o);
            return o;
          }),
      );
    }
    const all = await Promise.all(pipeline.stages.map((s) => finished.get(s.name)!));
    return Object.fromEntries(all.map((o) => [o.name, o]));
  } finally {
    session.close();
  }
}
