/**
 * The run's side of a job: from a resolved stage and its upstream outputs to the StageJob a
 * worker runs, and from a worker's result back to an output in the run's own cache.
 *
 * The run computes the local ingredients (code fingerprint, dep hashes) as it does for a local
 * stage, so the key a worker computes is the key `tailor status` shows here.
 */
import type { Pipeline, StageSpec } from '../pipeline/types.js';
import type { Session } from '../run/session.js';
import { computeLocal, fullIngredients } from '../run/plan.js';
import { stageKey } from '../run/stage-key.js';
import { err, ok, type Result } from '../result.js';
import type { RemoteOutputs } from './remote-outputs.js';
import {
  STAGE_JOB_VERSION,
  describeStage,
  forwardedEnv,
  isPending,
  type JobNeed,
  type StageJob,
  type StageJobResult,
} from './stage-job.js';

/** `needs`: each upstream by name, as an output (`{ key, treeHash, contentHash }`) or `{ after: stage }`. */
export async function buildStageJob(
  session: Session,
  pipeline: Pipeline,
  spec: StageSpec,
  run: string,
  needs: Record<string, JobNeed>,
): Promise<StageJob> {
  const local = await computeLocal(session, pipeline, spec);
  const resolved = Object.values(needs).every((n) => !isPending(n));
  const contents = Object.fromEntries(
    Object.entries(needs).flatMap(([n, r]) => (isPending(r) ? [] : [[n, r.contentHash]])),
  );
  return {
    v: STAGE_JOB_VERSION,
    run,
    pipeline: pipeline.name,
    stage: spec.name,
    ...(resolved ? { key: stageKey(fullIngredients(local, contents)) } : {}),
    spec: describeStage(spec, pipeline.workdir),
    local,
    needs,
    workdir: pipeline.workdir,
    env: forwardedEnv(),
  };
}

/**
 * Bring a finished job's output into the run's cache (hash-checked) and register it under its
 * key; the run then records it as the stage's latest output like a local one.
 */
export async function adoptResult(
  session: Session,
  remote: RemoteOutputs,
  stage: string,
  result: Extract<StageJobResult, { ok: true }>,
): Promise<Result<void, string>> {
  const restored = await remote.restore(result.key, session);
  if (restored === 'missing' || restored === 'corrupt') {
    return err(
      `stage ${stage} finished on ${result.worker}, but its output is ${restored} on the remote ${remote.url}`,
    );
  }
  return ok(undefined);
}
