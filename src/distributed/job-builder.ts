/**
 * The run's side of a job: from a resolved stage and its upstream outputs to the StageJob a
 * worker runs. The run computes the local ingredients (code fingerprint, dep hashes) as it does
 * for a local stage, so the key a worker computes is the key `tailor status` shows here.
 */
import type { Pipeline, StageSpec } from '../pipeline/types.js';
import type { Session } from '../run/session.js';
import { computeLocal, fullIngredients } from '../run/plan.js';
import { stageKey } from '../run/stage-key.js';
import { err, ok, type Result } from '../result.js';
import { STAGE_JOB_VERSION, describeStage, forwardedEnv, isPending, type JobNeed, type StageJob } from './stage-job.js';

/** `needs`: each upstream by name, as an output (`{ key, treeHash, contentHash }`) or `{ after: stage }`. */
export async function buildStageJob(
  session: Session,
  pipeline: Pipeline,
  spec: StageSpec,
  run: string,
  needs: Record<string, JobNeed>,
): Promise<Result<StageJob, string>> {
  const local = await computeLocal(session, pipeline, spec);
  if (!local.ok) return err(local.error);
  const resolved = Object.values(needs).every((n) => !isPending(n));
  const contents = Object.fromEntries(
    Object.entries(needs).flatMap(([n, r]) => (isPending(r) ? [] : [[n, r.contentHash]])),
  );
  return ok({
    v: STAGE_JOB_VERSION,
    run,
    pipeline: pipeline.name,
    stage: spec.name,
    ...(resolved ? { key: stageKey(fullIngredients(local.value, contents)) } : {}),
    spec: describeStage(spec, pipeline.workdir),
    local: local.value,
    needs,
    workdir: pipeline.workdir,
    env: forwardedEnv(),
  });
}
