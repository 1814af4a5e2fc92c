/** `tailor run`: bring a pipeline up to date, running only stale stages. */
import { parseArgs } from 'node:util';
import { hostname } from 'node:os';
import { EXIT, UsageError, loadOrReport, openSession, printJson, takePipelineArg } from '../common.js';
import { suggestName } from '../suggest.js';
import { checkStageParams } from '../../pipeline/check-params.js';
import { formatDiagnostic } from '../../pipeline/diagnostics.js';
import { upstream } from '../../pipeline/dag.js';
import type { Pipeline } from '../../pipeline/types.js';
import { acquireRunLock } from '../../cache/run-lock.js';
import { executePipeline } from '../../run/executor.js';
import { GpuPool, detectGpus } from '../../run/gpu-pool.js';
import { planPipeline } from '../../run/plan.js';
import type { RunEvent, StageOutcome } from '../../run/events.js';
import { lockPathOf, readLockFile, writeLockFile, type LockFile } from '../../run/lock-file.js';
import { contentHash } from '../../cache/content-hash.js';
import { declaredDeterminism } from '../../run/stage-module.js';
import type { Session } from '../../run/session.js';
import { PlainLogger } from '../loggers/plain-logger.js';
import { QuietLogger } from '../loggers/quiet-logger.js';
import type { Logger } from '../loggers/logger.js';
import { formatStatus } from './status.js';
import { printRunSummary } from '../run-summary.js';

export const RUN_OPTIONS = {
  stage: { type: 'string', multiple: true },
  force: { type: 'string', multiple: true },
  'force-all': { type: 'boolean' },
  set: { type: 'string', multiple: true },
  'dry-run': { type: 'boolean' },
  jobs: { type: 'string' },
  json: { type: 'boolean' },
  cache: { type: 'string' },
  wait: { type: 'string' },
  quiet: { type: 'boolean' },
  report: { type: 'boolean' },
} as const;

/** What parseArgs gives for RUN_OPTIONS. */
export type ParsedRunOptions = ReturnType<
  typeof parseArgs<{ options: typeof RUN_OPTIONS; allowPositionals: true }>
>['values'];

export interface RunRequest {
  file: string;
  sets: string[];
  stages: string[];
  force: string[];
  forceAll: boolean;
  dryRun: boolean;
  jobs: number;
  json: boolean;
  cache?: string;
  waitSeconds: number;
  quiet: boolean;
  experiment?: string;
  signal?: AbortSignal;
  /** Also sees every run event the logger gets (watch mode tracks which stages are unfinished). */
  onEvent?: (event: RunEvent) => void;
}

export async function runCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: RUN_OPTIONS });
  const { pipeline: file } = takePipelineArg(positionals, 0);
  const result = await runPipelineRequest(runRequestFrom(file, values));
  if (values.report && result.pipeline) {
    const { writeReportFor } = await import('../report-hook.js');
    process.stderr.write(`tailor: wrote report ${await writeReportFor(result.pipeline, values.cache)}\n`);
  }
  return result.code;
}

/** The RunRequest that RUN_OPTIONS values ask for (shared with `exp run` and `watch`). */
export function runRequestFrom(file: string, values: ParsedRunOptions): RunRequest {
  return {
    file,
    sets: values.set ?? [],
    stages: values.stage ?? [],
    force: values.force ?? [],
    forceAll: values['force-all'] ?? false,
    dryRun: values['dry-run'] ?? false,
    jobs: parseCount(values.jobs, '--jobs', 2),
    json: values.json ?? false,
    cache: values.cache,
    waitSeconds: parseCount(values.wait, '--wait', 0),
    quiet: values.quiet ?? false,
  };
}

/** A whole-number option (`--jobs`, `--wait`), or `fallback` when absent. */
export function parseCount(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new UsageError(`${flag} expects a whole number, got "${value}"`);
  return Number(value);
}

/** Load, validate, lock, execute; used by `run`, `exp run` and `watch`. */
export async function runPipelineRequest(
  req: RunRequest,
): Promise<{ code: number; outcomes: StageOutcome[]; pipeline?: Pipeline }> {
  const pipeline = loadOrReport(req.file, req.sets, undefined, req.cache);
  if (!pipeline) return { code: EXIT.usage, outcomes: [] };
  const names = new Set(pipeline.stages.map((s) => s.name));
  const groups = new Set(pipeline.stages.map((s) => s.group));
  for (const n of [...req.stages, ...req.force]) {
    if (!names.has(n) && !groups.has(n)) {
      process.stderr.write(`tailor: no stage "${n}" in ${req.file}${suggestName(n, names)}\n`);
      return { code: EXIT.usage, outcomes: [] };
    }
  }
  const expand = (list: string[]) =>
    new Set(pipeline.stages.filter((s) => list.includes(s.name) || list.includes(s.group)).map((s) => s.name));
  const forced = expand(req.force);
  const force = (name: string) => req.forceAll || forced.has(name);
  const selected = req.stages.length > 0 ? upstream(pipeline, [...expand(req.stages)]) : names;

  const paramErrors = await checkStageParams(pipeline);
  if (paramErrors.length > 0) {
    for (const d of paramErrors)
      process.stderr.write(formatDiagnostic(d, { color: Boolean(process.stderr.isTTY) }) + '\n');
    return { code: EXIT.usage, outcomes: [], pipeline };
  }

  const session = await openSession(req.cache, pipeline.workdir);
  try {
    if (req.dryRun) return { code: await dryRun(session, pipeline, force, selected, req.json), outcomes: [], pipeline };
    return await executeLocked(session, pipeline, req, force, selected);
  } finally {
    session.close();
  }
}

async function dryRun(
  session: Session,
  pipeline: Pipeline,
  force: (n: string) => boolean,
  selected: Set<string>,
  json: boolean,
): Promise<number> {
  const plans = (await planPipeline(session, pipeline, force)).filter((p) => selected.has(p.spec.name));
  if (json) {
    printJson({
      stages: plans.map((p) => ({
        name: p.spec.name,
        action: p.action === 'run' ? 'run' : 'cached',
        state: p.state,
        reasons: p.reasons,
      })),
    });
  } else {
    const toRun = plans.filter((p) => p.action === 'run');
    process.stdout.write(formatStatus(plans));
    process.stdout.write(
      toRun.length === 0
        ? 'dry run: nothing would run\n'
        : `dry run: would run ${toRun.map((p) => p.spec.name).join(', ')}\n`,
    );
  }
  return EXIT.ok;
}

async function executeLocked(
  session: Session,
  pipeline: Pipeline,
  req: RunRequest,
  force: (n: string) => boolean,
  selected: Set<string>,
): Promise<{ code: number; outcomes: StageOutcome[]; pipeline: Pipeline }> {
  const logger: Logger = req.json || req.quiet ? new QuietLogger() : new PlainLogger();
  const lock = await acquireRunLock(session.cacheDir, {
    waitSeconds: req.waitSeconds,
    onWait: (holder) => logger.handle({ type: 'notice', message: `waiting for the cache lock, ${holder.message}` }),
  });
  if (!lock.ok) {
    process.stderr.write(
      `tailor: the cache ${session.cacheDir} is in use: ${lock.error.message}\n  wait for it with --wait SECONDS, or use another --cache\n`,
    );
    return { code: EXIT.locked, outcomes: [], pipeline };
  }
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      process.stderr.write(`\ntailor: ${sig} again: stopping now\n`);
      process.exit(EXIT.interrupted);
    }
    logger.handle({ type: 'notice', message: `${sig}: stopping running stages (press Ctrl-C again to force)` });
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A signal aborted before the lock was taken (Ctrl-C while loading) never fires 'abort' again.
  if (req.signal?.aborted) controller.abort();
  else req.signal?.addEventListener('abort', () => controller.abort(), { once: true });
  const started = Date.now();
  const runId = session.index.beginRun({
    pipeline: pipeline.name,
    argv: process.argv.slice(2),
    host: hostname(),
    pid: process.pid,
    experiment: req.experiment,
    params: Object.fromEntries(pipeline.stages.map((s) => [s.name, s.params])),
  });
  try {
    const cleaned = await session.store.cleanupTemp();
    if (cleaned > 0)
      logger.handle({
        type: 'notice',
        message: `removed ${cleaned} unfinished output folder(s) left by an interrupted run`,
      });
    const emit = (e: RunEvent) => {
      logger.handle(e);
      req.onEvent?.(e);
    };
    emit({ type: 'run-start', pipeline: pipeline.name, stages: selected.size, jobs: req.jobs });
    const outcomes = await executePipeline(session, pipeline, {
      runId,
      jobs: Math.max(1, req.jobs),
      force,
      selected,
      gpus: new GpuPool(detectGpus()),
      signal: controller.signal,
      emit,
    });
    const interrupted = controller.signal.aborted;
    const failed = outcomes.some((o) => o.action === 'failed');
    emit({ type: 'run-end', outcomes, seconds: (Date.now() - started) / 1000, interrupted });
    logger.close();
    session.index.endRun(runId, interrupted ? 'interrupted' : failed ? 'failed' : 'ok');
    // The lock file records the pipeline as committed: not --set variants or experiments.
    if (!failed && !interrupted && req.sets.length === 0 && !req.experiment) await updateLockFile(session, pipeline);
    if (req.json)
      printJson({ stages: outcomes.map((o) => ({ name: o.name, action: o.action, seconds: round(o.seconds) })) });
    else if (!req.quiet) printRunSummary(pipeline, outcomes);
    return { code: interrupted ? EXIT.interrupted : failed ? EXIT.failed : EXIT.ok, outcomes, pipeline };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    lock.value.release();
  }
}

/** Record every stage whose latest output is known, keeping entries of stages not touched. */
async function updateLockFile(session: Session, pipeline: Pipeline): Promise<void> {
  const file = lockPathOf(pipeline);
  const lock: LockFile = readLockFile(file) ?? { pipeline: pipeline.displayName, stages: {} };
  lock.pipeline = pipeline.displayName; // harden-input: the lock file keeps the display name
  const names = new Set(pipeline.stages.map((s) => s.name));
  lock.stages = Object.fromEntries(Object.entries(lock.stages).filter(([name]) => names.has(name)));
  const declared = await declaredDeterminism(pipeline.stages);
  const latestByStage = session.index.latestOfPipeline(pipeline.name);
  for (const spec of pipeline.stages) {
    const latest = latestByStage.get(spec.name);
    if (!latest) continue;
    const before = lock.stages[spec.name];
    // Recorded at commit; outputs from before schema 3 are walked once (an unchanged one keeps the lock's).
    const content =
      latest.contentHash ??
      (before?.output === latest.treeHash && before.content
        ? before.content
        : await contentHash(session.store.pathOf(latest.treeHash), session.hasher).catch(() => undefined));
    lock.stages[spec.name] = {
      key: latest.stageKey,
      output: latest.treeHash,
      ...(content ? { content } : {}),
      deterministic: spec.verify?.deterministic ?? declared.get(spec.name) ?? false,
      metrics: latest.metrics,
    };
  }
  writeLockFile(file, lock);
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
