/**
 * The CLI around the run use case: a logger for the events, the summary or the `--json` object
 * at the end, and the exit code, for every command that runs a pipeline (run, exp run, the
 * experiment queue, watch).
 */
import type { Pipeline } from '../pipeline/types.js';
import { headlineOf } from '../pipeline/headline.js';
import type { RunEvent } from '../run/events.js';
import { runPipeline, type RunFailure, type RunOptions, type RunReport } from '../run/run-pipeline.js';
import type { Session } from '../run/session.js';
import type { Result } from '../result.js';
import { EXIT, UsageError, printDiagnostics, printJson } from './common.js';
import { PlainLogger } from './loggers/plain-logger.js';
import { QuietLogger } from './loggers/quiet-logger.js';
import type { Logger } from './loggers/logger.js';
import { printRunSummary } from './run-summary.js';
import type { OptionValues } from './options.js';
import type { RUN_OPTIONS } from './command-specs.js';

/** What a command asks of a run, beyond the signal and the event sink. */
export type CliRun = Omit<RunOptions, 'signal' | 'emit'> & { json: boolean; quiet: boolean };

/** The CliRun that RUN_OPTIONS values ask for (run, exp run). */
export function cliRunFrom(values: OptionValues<typeof RUN_OPTIONS>): CliRun {
  return {
    stages: values.stage ?? [],
    force: values.force ?? [],
    forceAll: values['force-all'] ?? false,
    jobs: parseCount(values.jobs, '--jobs', 2),
    json: values.json ?? false,
    quiet: values.quiet ?? false,
    waitSeconds: parseCount(values.wait, '--wait', 0),
    overwriteExports: values['overwrite-exports'] ?? false,
  };
}

/** A whole-number option (`--jobs`, `--wait`), or `fallback` when absent. */
export function parseCount(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new UsageError(`${flag} expects a whole number, got "${value}"`);
  return Number(value);
}

/** Exit code of a run's result (0, 1 a stage failed, 2, 3 locked or lock lost, 130). */
export function exitCodeOf(result: Result<RunReport, RunFailure>): number {
  if (!result.ok) return result.error.kind === 'locked' ? EXIT.locked : EXIT.usage;
  const r = result.value;
  return r.lockLost ? EXIT.locked : r.interrupted ? EXIT.interrupted : r.failed ? EXIT.failed : EXIT.ok;
}

/** Print why a run could not happen. */
export function printRunFailure(failure: RunFailure): void {
  switch (failure.kind) {
    case 'params':
      printDiagnostics(failure.diagnostics);
      break;
    case 'locked':
      process.stderr.write(`tailor: ${failure.message}\n  wait for it with --wait SECONDS, or use another --cache\n`);
      break;
    case 'usage':
    case 'environment':
      process.stderr.write(`tailor: ${failure.message}\n`);
      break;
    default: {
      const never: never = failure;
      throw new Error(`internal error: unknown run failure ${JSON.stringify(never)}`);
    }
  }
}

/** Run a loaded pipeline, show it as a command does, and give the exit code. */
export async function runAndReport(
  session: Session,
  pipeline: Pipeline,
  req: CliRun,
  signal: AbortSignal,
  onEvent?: (event: RunEvent) => void,
): Promise<{ code: number; result: Result<RunReport, RunFailure> }> {
  const logger: Logger =
    req.json || req.quiet ? new QuietLogger() : new PlainLogger(process.stderr, true, headlineOf(pipeline));
  const result = await runPipeline(session, pipeline, {
    ...req,
    signal,
    emit: (e) => {
      logger.handle(e);
      onEvent?.(e);
    },
  });
  logger.close();
  if (!result.ok) printRunFailure(result.error);
  else if (req.json)
    printJson({
      stages: result.value.outcomes.map((o) => ({
        name: o.name,
        action: o.action,
        seconds: Math.round(o.seconds * 1000) / 1000,
        ...(o.from ? { from: o.from } : {}),
        ...(o.worker ? { worker: o.worker } : {}),
      })),
    });
  else if (!req.quiet) printRunSummary(pipeline, result.value.outcomes);
  return { code: exitCodeOf(result), result };
}
