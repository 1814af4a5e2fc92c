/**
 * The scheduler: runs a pipeline's stages in dependency order, up to `jobs` at once, each through
 * the stage runner (stage-runner.ts) and its executor. Per stage:
 *
 *   waiting ──needs ran/cached, a job slot and its GPUs free──> running (stage-runner) ──> ran | cached | failed
 *      └──a need failed or was skipped──> skipped
 *
 * A stage's key is computed only when it becomes ready, from the actual content hashes of its
 * upstream outputs: an upstream that reruns but produces the same bytes leaves it cached. After
 * an abort nothing new starts; running stages are stopped by their executor and end as failed.
 */
import type { StageSpec } from '../pipeline/types.js';
import type { StageOutcome } from './events.js';
import type { GpuPool } from './gpu-pool.js';
import { recordQuietly, runRecord, runStage, type StageRunContext } from './stage-runner.js';

export interface ScheduleOptions {
  jobs: number;
  /** Run only these stages (the caller includes their upstream stages). */
  selected: Set<string>;
  gpus: GpuPool;
}

export async function schedulePipeline(ctx: StageRunContext, opts: ScheduleOptions): Promise<StageOutcome[]> {
  const { pipeline } = ctx;
  const outcomes = new Map<string, StageOutcome>();
  const waiting = pipeline.stages.filter((s) => opts.selected.has(s.name));
  const running = new Map<string, Promise<void>>();
  const gpuNeed = (spec: StageSpec): number =>
    ctx.executor.placesGpus ? 0 : Math.min(spec.resources.gpu, opts.gpus.total);
  let fatal: unknown;

  while (waiting.length > 0 || running.size > 0) {
    for (let i = 0; i < waiting.length && !ctx.signal.aborted && fatal === undefined;) {
      const spec = waiting[i]!;
      const needs = spec.needs.map((n) => outcomes.get(n));
      const blocked = needs.find((o) => o && (o.action === 'failed' || o.action === 'skipped'));
      if (blocked) {
        waiting.splice(i, 1);
        const outcome = skip(ctx, spec, `upstream ${blocked.name} ${blocked.action}`);
        outcomes.set(spec.name, outcome);
        ctx.emit({ type: 'stage-end', outcome });
        continue;
      }
      const ready = needs.every((o) => o !== undefined);
      if (ready && running.size < opts.jobs && opts.gpus.canTake(gpuNeed(spec))) {
        waiting.splice(i, 1);
        const gpuIds = opts.gpus.take(gpuNeed(spec));
        const promise = runStage(ctx, spec, needs as StageOutcome[], gpuIds)
          .then(
            (outcome) => {
              outcomes.set(spec.name, outcome);
              ctx.emit({ type: 'stage-end', outcome });
            },
            (e: unknown) => {
              fatal ??= e; // a damaged index: start nothing more, let the running stages end
            },
          )
          .finally(() => {
            opts.gpus.give(gpuIds);
            running.delete(spec.name);
          });
        running.set(spec.name, promise);
        continue;
      }
      i++;
    }
    if (running.size === 0) break; // aborted, or nothing runnable
    await Promise.race(running.values());
  }
  if (fatal !== undefined) throw fatal;
  return pipeline.stages.flatMap((s) => outcomes.get(s.name) ?? []);
}

function skip(ctx: StageRunContext, spec: StageSpec, reason: string): StageOutcome {
  recordQuietly(ctx, runRecord(ctx, spec, '', 'skipped', Date.now(), { error: reason }));
  return { name: spec.name, action: 'skipped', seconds: 0, reasons: [reason] };
}
