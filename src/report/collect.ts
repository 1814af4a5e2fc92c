/**
 * Gather what the report shows from the cache: the latest run of the pipeline and its stage
 * records, each stage's current state (the last run's action, unless it is stale now) and its
 * latest output folder. Reads only; runs nothing.
 */
import { basename, extname } from 'node:path';
import type { StageRunRecord } from '../cache/index-db.js';
import type { Pipeline } from '../pipeline/types.js';
import { planPipeline, type StagePlan } from '../run/plan.js';
import type { Session } from '../run/session.js';
import { numberAtPath } from '../util/flatten.js';
import type { MetricChoice, ReportData, ShownState, StageView } from './report-data.js';

/** Default metric for comparing runs: the last stage (in run order) that reports it. */
const DEFAULT_METRICS = ['holdout.micro_f1', 'validation.micro_f1'];

export interface CollectOptions {
  /** `STAGE.path.in.metrics` to compare experiment runs by. */
  metric?: string;
}

/** Read the cache and plan the pipeline (for stale states); never throws for a user-level problem. */
export async function collectReport(
  session: Session,
  pipeline: Pipeline,
  opts: CollectOptions = {},
): Promise<ReportData> {
  const lastRun = session.index.runs.listRuns({ pipeline: pipeline.name, limit: 1 })[0];
  const runStages = lastRun ? session.index.runs.stageRunsOf(lastRun.id) : [];
  let plans: StagePlan[] | undefined;
  let planError: string | undefined;
  try {
    plans = await planPipeline(session, pipeline, () => false);
  } catch (err) {
    planError = (err as Error).message;
  }
  const stages: StageView[] = pipeline.stages.map((spec) => {
    const latest = session.index.outputs.getLatest(pipeline.name, spec.name);
    const present = latest !== undefined && session.store.exists(latest.treeHash);
    const record = lastRecordOf(runStages, spec.name);
    const plan = plans?.find((p) => p.spec.name === spec.name);
    const { state, reasons } = stateOf(record, plan, present);
    return {
      spec,
      builtin: spec.builtin && spec.module ? basename(spec.module, extname(spec.module)) : undefined,
      state,
      reasons,
      record,
      producedSeconds: latest?.seconds,
      out: present ? session.store.pathOf(latest.treeHash) : undefined,
      metrics: latest?.metrics ?? {},
    };
  });
  const data: ReportData = {
    pipeline,
    cacheDir: session.cacheDir,
    generatedAt: new Date(),
    lastRun,
    runStages,
    stages,
    planError,
    index: session.index.runs,
  };
  data.metric = opts.metric ? parseMetricChoice(pipeline, opts.metric) : defaultMetric(stages);
  return data;
}

function lastRecordOf(records: StageRunRecord[], stage: string): StageRunRecord | undefined {
  for (let i = records.length - 1; i >= 0; i--) if (records[i]?.stage === stage) return records[i];
  return undefined;
}

/**
 * The state shown for a stage. A failure in the last run wins (that is what the reader must
 * see); otherwise a stage the pipeline would run now is stale; otherwise it shows what the last
 * run did, and a stage the last run did not touch but whose output is current shows as cached.
 */
function stateOf(
  record: StageRunRecord | undefined,
  plan: StagePlan | undefined,
  present: boolean,
): { state: ShownState; reasons: string[] } {
  if (record?.action === 'failed') return { state: 'failed', reasons: [record.error ?? `stage ${record.status}`] };
  if (record?.action === 'skipped' && !present)
    return { state: 'skipped', reasons: ['an upstream stage failed or was skipped'] };
  if (plan && plan.state !== 'fresh') return { state: plan.state, reasons: plan.reasons };
  if (!plan && !present) return { state: 'never-run', reasons: ['no output in the cache'] };
  if (record?.action === 'ran' || record?.action === 'cached') return { state: record.action, reasons: [] };
  return { state: 'cached', reasons: [] };
}

/** `STAGE.path` to a metric choice; the stage is the longest stage name the text starts with. */
export function parseMetricChoice(pipeline: Pipeline, text: string): MetricChoice | undefined {
  const stage = pipeline.stages
    .map((s) => s.name)
    .filter((n) => text.startsWith(`${n}.`) && text.length > n.length + 1)
    .sort((a, b) => b.length - a.length)[0];
  return stage === undefined ? undefined : { stage, path: text.slice(stage.length + 1) };
}

function defaultMetric(stages: StageView[]): MetricChoice | undefined {
  for (const path of DEFAULT_METRICS) {
    for (let i = stages.length - 1; i >= 0; i--) {
      const s = stages[i] as StageView;
      if (numberAtPath(s.metrics, path) !== undefined) return { stage: s.spec.name, path };
    }
  }
  return undefined;
}
