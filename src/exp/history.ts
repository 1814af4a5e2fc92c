/**
 * Experiment runs as recorded in the cache index: every run started with an experiment name,
 * with its resolved params, each stage's action, key, seconds and metrics.
 */
import type { RunHistory, RunRecord, RunStatus } from '../cache/run-history.js';
import type { StageAction } from '../stage-states.js';
import { flattenMetrics, flattenStageParams } from './flat.js';

export interface ExpStage {
  action: StageAction;
  seconds: number;
  /** Stage key ('' for a stage skipped before its key was known). */
  key: string;
  treeHash: string | null;
}

/** One experiment run, flattened for tables and diffs. */
export interface ExpRun {
  /** Run id in the cache index. */
  id: number;
  name: string;
  pipeline: string;
  startedAt: number;
  endedAt: number | null;
  status: RunStatus;
  /** `stage.param` -> value (nested params flattened, arrays whole). */
  params: Record<string, unknown>;
  /** `stage.metric.path` -> number. */
  metrics: Record<string, number>;
  /** Per stage, in the order the run recorded them. */
  stages: Record<string, ExpStage>;
}

export interface ExpFilter {
  /** Only these experiment names (all when empty). */
  names?: string[];
  pipeline?: string;
  /** Only the most recent N runs. */
  last?: number;
}

/** Experiment runs, oldest first. */
export function experimentRuns(index: RunHistory, filter: ExpFilter = {}): ExpRun[] {
  const names = new Set(filter.names ?? []);
  const runs = index
    .listRuns({ pipeline: filter.pipeline })
    .filter(
      (r): r is RunRecord & { experiment: string } =>
        r.experiment !== null && (names.size === 0 || names.has(r.experiment)),
    );
  const picked = filter.last !== undefined ? runs.slice(0, filter.last) : runs;
  return picked.reverse().map((r) => toExpRun(index, r));
}

function toExpRun(index: RunHistory, run: RunRecord & { experiment: string }): ExpRun {
  const stages: Record<string, ExpStage> = {};
  const metrics: Record<string, number> = {};
  for (const s of index.stageRunsOf(run.id)) {
    stages[s.stage] = { action: s.action, seconds: s.seconds, key: s.stageKey, treeHash: s.treeHash };
    Object.assign(metrics, flattenMetrics(s.metrics, s.stage));
  }
  return {
    id: run.id,
    name: run.experiment,
    pipeline: run.pipeline,
    startedAt: run.startedAt,
    endedAt: run.endedAt,
    status: run.status,
    params: flattenStageParams(run.params),
    metrics,
    stages,
  };
}

/**
 * The run an argument of `exp diff` names: the latest run of experiment NAME, or run `#ID`
 * (a bare number is an experiment name first, then a run id). Undefined when nothing matches.
 */
export function findExperimentRun(index: RunHistory, ref: string): ExpRun | undefined {
  const byId = (id: number): ExpRun | undefined => {
    const run = index.getRun(id);
    return run && run.experiment !== null ? toExpRun(index, { ...run, experiment: run.experiment }) : undefined;
  };
  const hash = /^#(\d+)$/.exec(ref);
  if (hash) return byId(Number(hash[1]));
  const latest = index.listRuns({ experiment: ref, limit: 1 })[0];
  if (latest) return toExpRun(index, { ...latest, experiment: ref });
  return /^\d+$/.test(ref) ? byId(Number(ref)) : undefined;
}

/** Total seconds of the stages that ran (cached ones cost next to nothing). */
export function ranSeconds(run: ExpRun): number {
  return Object.values(run.stages).reduce((t, s) => t + (s.action === 'ran' ? s.seconds : 0), 0);
}

/** Local date and time to the second: `2025-03-01 14:02:09`. */
export function formatWhen(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
