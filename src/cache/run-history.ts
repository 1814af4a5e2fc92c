/**
 * The run history part of the index: one row per tailor run and one per stage in it (action,
 * seconds, host, metrics, log, failure message). Read by `exp`, the report, `show` and `verify`;
 * written by the run use case (src/run/run-pipeline.ts).
 */
import type Database from 'better-sqlite3';
import type { StageAction } from '../stage-states.js';

export type RunStatus = 'running' | 'ok' | 'failed' | 'interrupted';

/** One `tailor run` invocation. */
export interface RunRecord {
  id: number;
  pipeline: string;
  argv: string[];
  host: string;
  pid: number;
  /** Experiment name the run belongs to (for reports), if any. */
  experiment: string | null;
  /** Per-run parameters (e.g. `--set` overrides, vars), as given to beginRun. */
  params: unknown;
  startedAt: number;
  endedAt: number | null;
  status: RunStatus;
}

/** What the runner records for each stage of a run. */
export interface StageRunInput {
  runId: number;
  pipeline: string;
  stage: string;
  stageKey: string;
  action: StageAction;
  /** Outcome in words: 'ok', 'failed', 'skipped'. */
  status: string;
  /** Epoch milliseconds. */
  start: number;
  end: number;
  seconds: number;
  host: string;
  metrics: Record<string, unknown>;
  logPath: string | null;
  treeHash?: string | null;
  /** The one-line message of a failed (or skipped) stage. */
  error?: string | null;
}

export interface StageRunRecord extends Required<StageRunInput> {
  id: number;
}

interface RunRow {
  id: number;
  pipeline: string;
  argv: string;
  host: string;
  pid: number;
  experiment: string | null;
  params: string | null;
  started_at: number;
  ended_at: number | null;
  status: RunStatus;
}

interface StageRunRow {
  id: number;
  run_id: number;
  pipeline: string;
  stage: string;
  stage_key: string;
  action: StageAction;
  status: string;
  start: number;
  end: number;
  seconds: number;
  host: string;
  metrics: string;
  log_path: string | null;
  tree_hash: string | null;
  error: string | null;
}

function prepare(db: Database.Database) {
  return {
    beginRun: db.prepare(
      `INSERT INTO runs (pipeline, argv, host, pid, experiment, params, started_at, status)
       VALUES (@pipeline, @argv, @host, @pid, @experiment, @params, @started_at, 'running')`,
    ),
    endRun: db.prepare('UPDATE runs SET ended_at = ?, status = ? WHERE id = ?'),
    closeDangling: db.prepare(`UPDATE runs SET ended_at = ?, status = 'interrupted' WHERE status = 'running'`),
    recordStageRun: db.prepare(
      `INSERT INTO stage_runs (run_id, pipeline, stage, stage_key, action, status, start, "end", seconds, host, metrics, log_path, tree_hash, error)
       VALUES (@run_id, @pipeline, @stage, @stage_key, @action, @status, @start, @end, @seconds, @host, @metrics, @log_path, @tree_hash, @error)`,
    ),
    listRuns: db.prepare(
      `SELECT * FROM runs WHERE (@pipeline IS NULL OR pipeline = @pipeline) AND (@experiment IS NULL OR experiment = @experiment)
       ORDER BY id DESC LIMIT @limit`,
    ),
    getRun: db.prepare('SELECT * FROM runs WHERE id = ?'),
    stageRunsOf: db.prepare('SELECT * FROM stage_runs WHERE run_id = ? ORDER BY id'),
    lastStageRun: db.prepare('SELECT * FROM stage_runs WHERE pipeline = ? AND stage = ? ORDER BY id DESC LIMIT 1'),
    recentRunTrees: db.prepare(
      `SELECT DISTINCT tree_hash FROM stage_runs
       WHERE tree_hash IS NOT NULL AND run_id IN (SELECT id FROM runs ORDER BY id DESC LIMIT ?)`,
    ),
  };
}

/** Runs and stage runs. All methods are synchronous (better-sqlite3). */
export class RunHistory {
  private readonly stmts: ReturnType<typeof prepare>;

  /** `adopt(pipeline)` runs before a pipeline's rows are read or written (legacy-pipeline-rows.ts). */
  constructor(
    db: Database.Database,
    private readonly adopt: (pipeline: string) => void = () => undefined,
  ) {
    this.stmts = prepare(db);
  }

  /** Record the start of a run; returns its id. */
  beginRun(run: {
    pipeline: string;
    argv: string[];
    host: string;
    pid: number;
    experiment?: string;
    params?: unknown;
  }): number {
    this.adopt(run.pipeline);
    const res = this.stmts.beginRun.run({
      pipeline: run.pipeline,
      argv: JSON.stringify(run.argv),
      host: run.host,
      pid: run.pid,
      experiment: run.experiment ?? null,
      params: run.params === undefined ? null : JSON.stringify(run.params),
      started_at: Date.now(),
    });
    return Number(res.lastInsertRowid);
  }

  /** Record the end of a run. */
  endRun(runId: number, status: Exclude<RunStatus, 'running'>): void {
    this.stmts.endRun.run(Date.now(), status, runId);
  }

  /**
   * Mark runs still 'running' as 'interrupted' (their process was killed). Call only while
   * holding the run lock, when no other run can be live. Returns how many were closed.
   */
  closeDanglingRuns(): number {
    return this.stmts.closeDangling.run(Date.now()).changes;
  }

  /** Record what happened to one stage in a run. */
  recordStageRun(r: StageRunInput): number {
    const res = this.stmts.recordStageRun.run({
      run_id: r.runId,
      pipeline: r.pipeline,
      stage: r.stage,
      stage_key: r.stageKey,
      action: r.action,
      status: r.status,
      start: r.start,
      end: r.end,
      seconds: r.seconds,
      host: r.host,
      metrics: JSON.stringify(r.metrics ?? {}),
      log_path: r.logPath,
      tree_hash: r.treeHash ?? null,
      error: r.error ?? null,
    });
    return Number(res.lastInsertRowid);
  }

  /** Runs, newest first, optionally of one pipeline and/or experiment. */
  listRuns(filter: { pipeline?: string; experiment?: string; limit?: number } = {}): RunRecord[] {
    if (filter.pipeline !== undefined) this.adopt(filter.pipeline);
    const rows = this.stmts.listRuns.all({
      pipeline: filter.pipeline ?? null,
      experiment: filter.experiment ?? null,
      limit: filter.limit ?? -1,
    }) as RunRow[];
    return rows.map(toRun);
  }

  /** One run by id. */
  getRun(runId: number): RunRecord | undefined {
    const row = this.stmts.getRun.get(runId) as RunRow | undefined;
    return row && toRun(row);
  }

  /** The stage records of a run, in the order they were recorded. */
  stageRunsOf(runId: number): StageRunRecord[] {
    return (this.stmts.stageRunsOf.all(runId) as StageRunRow[]).map(toStageRun);
  }

  /** The most recent record of one pipeline stage, in any run (`show` reports a failure from it). */
  lastStageRun(pipeline: string, stage: string): StageRunRecord | undefined {
    const row = this.stmts.lastStageRun.get(pipeline, stage) as StageRunRow | undefined;
    return row && toStageRun(row);
  }

  /** Tree hashes referenced by the stage records of the `n` most recent runs. */
  treeHashesOfRecentRuns(n: number): Set<string> {
    if (n <= 0) return new Set();
    const rows = this.stmts.recentRunTrees.all(n) as Array<{ tree_hash: string }>;
    return new Set(rows.map((r) => r.tree_hash));
  }
}

function toRun(r: RunRow): RunRecord {
  return {
    id: r.id,
    pipeline: r.pipeline,
    argv: JSON.parse(r.argv) as string[],
    host: r.host,
    pid: r.pid,
    experiment: r.experiment,
    params: r.params === null ? null : (JSON.parse(r.params) as unknown),
    startedAt: r.started_at,
    endedAt: r.ended_at,
    status: r.status,
  };
}

function toStageRun(r: StageRunRow): StageRunRecord {
  return {
    id: r.id,
    runId: r.run_id,
    pipeline: r.pipeline,
    stage: r.stage,
    stageKey: r.stage_key,
    action: r.action,
    status: r.status,
    start: r.start,
    end: r.end,
    seconds: r.seconds,
    host: r.host,
    metrics: JSON.parse(r.metrics) as Record<string, unknown>,
    logPath: r.log_path,
    treeHash: r.tree_hash,
    error: r.error,
  };
}
