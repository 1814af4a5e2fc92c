/**
 * The one-stage job a distributed executor hands to a worker: the data of a BullMQ job, or the
 * JSON file a Slurm job script runs. It says everything a worker on another machine needs and
 * nothing that only makes sense on the submitting one: the stage as the pipeline resolved it
 * (kind, module by built-in name or workdir-relative path, params, seed, deps), the run's
 * labelled local ingredients (the worker recomputes its own and must agree, so a key means the
 * same thing on every machine), and the upstream outputs by key and hash. It arrives over the
 * network, so `parseStageJob` checks its shape before anything trusts it.
 */
import { relative } from 'node:path';
import type { StageSpec } from '../pipeline/types.js';
import type { LocalIngredients } from '../cache/key-ingredients.js';
import { TAILOR_ROOT } from '../paths.js';
import { isTreeHash } from '../cache/content-store.js';
import { err, ok, type Result } from '../result.js';

export const STAGE_JOB_VERSION = 1;

/** An upstream output that is known (committed somewhere, published to the remote). */
export interface ResolvedNeed {
  key: string;
  treeHash: string;
  /** What the downstream key is made of (the output without metrics.json). */
  contentHash: string;
}

/**
 * An upstream that is itself submitted to the same executor and not finished yet (Slurm
 * `afterok`): the worker reads its result when its own job starts.
 */
export interface PendingNeed {
  after: string;
}

export type JobNeed = ResolvedNeed | PendingNeed;

export interface JobStage {
  kind: 'module' | 'cmd';
  /** A built-in stage by name (`pad`, resolved in the worker's tailor), or a module path relative to the workdir. */
  module?: { builtin: string } | { path: string };
  /** The command with `${out}` and `${needs.NAME}` left for the worker to fill in. */
  cmd?: string;
  params: Record<string, unknown>;
  seed: number;
  deps: string[];
  gpu: number;
  /** The stage's `timeout:` in seconds, none when absent. */
  timeout?: number;
}

export interface StageJob {
  v: typeof STAGE_JOB_VERSION;
  /** The submitting run's token: job ids and cancellation are per run. */
  run: string;
  pipeline: string;
  stage: string;
  /** The expected stage key; absent while some needs are pending (the worker computes it). */
  key?: string;
  spec: JobStage;
  local: LocalIngredients;
  needs: Record<string, JobNeed>;
  /** The submitting machine's working folder (used where the worker has the same path: shared FS, same checkout). */
  workdir: string;
  /** Extra environment for the stage (e.g. TAILOR_BACKEND, which decides the bytes of model stages). */
  env: Record<string, string>;
}

/** What a worker hands back for one job. */
export type StageJobResult =
  | {
      ok: true;
      key: string;
      treeHash: string;
      contentHash: string;
      metrics: Record<string, unknown>;
      /** `host:pid` of the worker, or `slurm:<jobid>@host`. */
      worker: string;
      seconds: number;
      /** `ran` here, or found already published under its key (a retried or duplicate job). */
      from: 'ran' | 'remote';
      logTail: string[];
    }
  | { ok: false; message: string; worker: string; seconds: number; logTail: string[] };

export function isPending(need: JobNeed): need is PendingNeed {
  return 'after' in need;
}

/** Environment variables the run forwards to workers: they change what a stage writes. */
const FORWARDED_ENV = ['TAILOR_BACKEND'];

export function forwardedEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return Object.fromEntries(FORWARDED_ENV.flatMap((k) => (env[k] !== undefined ? [[k, env[k]]] : [])));
}

/** The pipeline-independent description of a resolved stage. */
export function describeStage(spec: StageSpec, workdir: string): JobStage {
  const module =
    spec.kind !== 'module' || !spec.module
      ? undefined
      : spec.builtin
        ? { builtin: relative(`${TAILOR_ROOT}/stages`, spec.module).replace(/\.ts$/, '') }
        : { path: relative(workdir, spec.module) };
  return {
    kind: spec.kind,
    ...(module ? { module } : {}),
    ...(spec.cmd !== undefined ? { cmd: spec.cmd } : {}),
    params: spec.params,
    seed: spec.seed,
    deps: spec.deps,
    gpu: spec.resources.gpu,
    ...(spec.timeoutSeconds !== undefined ? { timeout: spec.timeoutSeconds } : {}),
  };
}

/** A BullMQ job id / file name for one stage of one run (`:` is reserved by BullMQ). */
export function jobIdOf(run: string, stage: string): string {
  return `${run}.${stage.replace(/[^A-Za-z0-9._@#-]/g, '_')}`;
}

const NAME = /^[A-Za-z0-9._@#-]{1,200}$/;
/** A pipeline's name is its file relative to the working folder (`pipelines/fashion.yaml`); never a path out of it. */
const PIPELINE_NAME = /^(?!\/)(?!.*(?:^|\/)\.\.(?:\/|$))[A-Za-z0-9._@#/-]{1,300}$/;
const MODULE_PATH = /^(?!\/)(?!.*(?:^|\/)\.\.(?:\/|$))[^\0]{1,500}$/;

/** Check the shape of a job that came over the network or from a file. */
export function parseStageJob(value: unknown): Result<StageJob, string> {
  const j = value as Partial<StageJob> | null;
  if (!j || typeof j !== 'object') return err('not an object');
  if (j.v !== STAGE_JOB_VERSION) return err(`job format ${String(j.v)}, this worker reads ${STAGE_JOB_VERSION}`);
  for (const f of ['run', 'stage'] as const) {
    if (typeof j[f] !== 'string' || !NAME.test(j[f])) return err(`field ${f} is not a safe name`);
  }
  if (typeof j.pipeline !== 'string' || !PIPELINE_NAME.test(j.pipeline))
    return err('field pipeline is not a safe name');
  if (j.key !== undefined && !isTreeHash(j.key)) return err('field key is not a hash');
  if (typeof j.workdir !== 'string' || !j.workdir.startsWith('/')) return err('field workdir is not an absolute path');
  const s = j.spec;
  if (!s || (s.kind !== 'module' && s.kind !== 'cmd')) return err('field spec.kind is not module or cmd');
  if (s.kind === 'cmd' && typeof s.cmd !== 'string') return err('a cmd stage without spec.cmd');
  if (s.kind === 'module') {
    const m = s.module as { builtin?: unknown; path?: unknown } | undefined;
    const okBuiltin =
      typeof m?.builtin === 'string' && /^[A-Za-z0-9._/-]{1,200}$/.test(m.builtin) && !m.builtin.includes('..');
    const okPath = typeof m?.path === 'string' && MODULE_PATH.test(m.path);
    if (!okBuiltin && !okPath) return err('field spec.module is neither a built-in name nor a relative path');
  }
  if (!isRecord(s.params) || typeof s.seed !== 'number' || typeof s.gpu !== 'number')
    return err('spec params/seed/gpu');
  if (s.timeout !== undefined && (typeof s.timeout !== 'number' || !(s.timeout > 0))) return err('spec.timeout');
  if (!Array.isArray(s.deps) || !s.deps.every((d) => typeof d === 'string')) return err('spec.deps is not a list');
  if (!isRecord(j.local)) return err('field local is missing');
  if (!isRecord(j.needs)) return err('field needs is missing');
  for (const [name, need] of Object.entries(j.needs)) {
    const n = need as Partial<ResolvedNeed & PendingNeed>;
    const resolved = isTreeHash(n.key ?? '') && isTreeHash(n.treeHash ?? '') && isTreeHash(n.contentHash ?? '');
    const pending = typeof n.after === 'string' && NAME.test(n.after);
    if (!NAME.test(name) || (!resolved && !pending))
      return err(`need ${name} is neither an output nor a pending stage`);
  }
  if (!isRecord(j.env) || !Object.values(j.env).every((v) => typeof v === 'string')) return err('field env');
  return ok(j as StageJob);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
