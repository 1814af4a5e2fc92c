/** What the report is drawn from: the pipeline, its last run, and each stage's state and output. */
import type { RunHistory, RunRecord, StageRunRecord } from '../cache/run-history.js';
import type { Pipeline, StageSpec } from '../pipeline/types.js';
import type { StageDisplayState } from '../stage-states.js';

/**
 * A stage's state on the page: what the last run did with it (`ran`, `cached`, `failed`,
 * `skipped`), unless the pipeline has changed since and it would run again (`stale`, `never-run`).
 */
export type ShownState = StageDisplayState;

export const STATE_COLORS: Record<ShownState, string> = {
  ran: '#59a14f',
  cached: '#4e79a7',
  failed: '#e15759',
  skipped: '#9c755f',
  stale: '#f28e2b',
  'never-run': '#bab0ac',
};

export const STATE_WORDS: Record<ShownState, string> = {
  ran: 'ran',
  cached: 'cached',
  failed: 'failed',
  skipped: 'skipped',
  stale: 'stale',
  'never-run': 'never run',
};

export interface StageView {
  spec: StageSpec;
  /** Name of the built-in stage module (`pad`), when `uses` named one. */
  builtin?: string;
  state: ShownState;
  /** Why it is stale, failed or skipped, in words. */
  reasons: string[];
  /** This stage's record in the last run, when that run touched it. */
  record?: StageRunRecord;
  /** Seconds the stage ran to produce its current output. */
  producedSeconds?: number;
  /** Absolute folder of its latest output, when that output is in the cache. */
  out?: string;
  /** Metrics of its latest output. */
  metrics: Record<string, unknown>;
}

/** A metric chosen for experiment comparison: `stage` + dotted `path` in its metrics. */
export interface MetricChoice {
  stage: string;
  path: string;
}

export interface ReportData {
  pipeline: Pipeline;
  cacheDir: string;
  generatedAt: Date;
  /** The latest run of this pipeline, if any. */
  lastRun?: RunRecord;
  /** Stage records of the last run, in the order they were recorded. */
  runStages: StageRunRecord[];
  stages: StageView[];
  /** Set when fresh/stale could not be worked out (states then come from the last run only). */
  planError?: string;
  metric?: MetricChoice;
  /** The open index, for the experiments section. */
  index: RunHistory;
}

/** Stages of `data` whose output folder is present, with the folder. */
export function withOutput(data: ReportData): Array<StageView & { out: string }> {
  return data.stages.filter((s): s is StageView & { out: string } => s.out !== undefined);
}

/** What every section renderer gets: the data, label names, and the pictures already on the page. */
export interface RenderContext {
  data: ReportData;
  /** Readable name of a label id. */
  label: (id: string) => string;
  /** Absolute paths of stage pictures a section has shown (the stage gallery skips them). */
  shown: Set<string>;
}
