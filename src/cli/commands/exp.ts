/**
 * `tailor exp`: experiments over one shared cache.
 *
 *   exp run [PIPELINE] --name NAME [--set STAGE.KEY=VALUE]... [run options]
 *   exp show [PIPELINE] [--all] [--metric TEXT]... [--name NAME]... [--last N] [--json|--csv]
 *   exp diff A B [--json]                 A, B: experiment names (latest run) or run ids (#12)
 *   exp queue [PIPELINE] --name NAME [--set ...] [--jobs N]      add to the queue
 *   exp queue --run [--jobs N] [--follow]                       run queued experiments in turn
 *   exp queue [--json] | exp queue --cancel ID                   list | remove a queued entry
 *
 * `exp run` and every queued experiment go through the run use case (runAndReport).
 */
import { resolve } from 'node:path';
import { formatDiagnostic } from '../../pipeline/diagnostics.js';
import { loadPipeline, pipelineId } from '../../pipeline/load.js';
import { EXIT, UsageError, loadOrReport, openSession, printHelp, printJson, takePipelineArg } from '../common.js';
import { SPECS } from '../command-specs.js';
import { withInterrupts } from '../interrupts.js';
import { parseCommand } from '../options.js';
import { cliRunFrom, parseCount, runAndReport } from '../run-reporting.js';
import { cacheDirFrom } from '../../run/session.js';
import { experimentRuns, findExperimentRun, formatWhen } from '../../exp/history.js';
import { chooseColumns, formatShowTable, showCsv, showJson } from '../../exp/show.js';
import { diffRuns, formatDiff } from '../../exp/diff.js';
import { ExperimentQueue, type QueueEntry } from '../../exp/queue-db.js';
import { drainQueue, type ExperimentEnd } from '../../exp/queue-worker.js';
import { renderTable } from '../../exp/text-table.js';
import { dryRun } from './run.js';

const SUBCOMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  run: expRun,
  show: expShow,
  diff: expDiff,
  queue: expQueue,
};

export async function expCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h') return printHelp(SPECS.exp);
  const fn = sub === undefined ? undefined : SUBCOMMANDS[sub];
  if (!fn) {
    throw new UsageError(
      `${sub === undefined ? 'which subcommand?' : `unknown subcommand "${sub}"`}: expected one of ${Object.keys(SUBCOMMANDS).join(', ')}`,
    );
  }
  return fn(rest);
}

/** An experiment name: printable, one line, at most 100 characters (it is data, never a path). */
function checkName(name: string | undefined): string {
  if (name === undefined || name.trim() === '')
    throw new UsageError('--name NAME is required: the experiment name to record');
  if (name.length > 100 || /[\u0000-\u001f\u007f]/.test(name))
    throw new UsageError(`--name must be one printable line of at most 100 characters`);
  return name;
}

async function expRun(argv: string[]): Promise<number> {
  const parsed = parseCommand(SPECS['exp run'], argv);
  if (parsed.help) return printHelp(SPECS['exp run']);
  const { values, positionals } = parsed;
  const name = checkName(values.name);
  const { pipeline: file } = takePipelineArg(positionals, 0);
  const pipeline = loadOrReport(file, values.set ?? [], undefined, values.cache);
  if (!pipeline) return EXIT.usage;
  const session = await openSession(values.cache, pipeline.workdir);
  let code: number;
  try {
    const req = { ...cliRunFrom(values), experiment: name };
    if (values['dry-run']) return await dryRun(session, pipeline, req, req.json);
    code = (await withInterrupts((signal) => runAndReport(session, pipeline, req, signal))).code;
  } finally {
    session.close();
  }
  if (code === EXIT.ok)
    process.stderr.write(`tailor: experiment "${name}" recorded; compare runs with \`tailor exp show\`\n`);
  return code;
}

async function expShow(argv: string[]): Promise<number> {
  const parsed = parseCommand(SPECS['exp show'], argv);
  if (parsed.help) return printHelp(SPECS['exp show']);
  const { values, positionals } = parsed;
  if (values.json && values.csv) throw new UsageError('--json and --csv: pick one');
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
  // Runs are recorded under the pipeline's path from the working folder.
  const pipelineName = positionals[0] === undefined ? undefined : pipelineId(positionals[0], process.cwd());
  const session = await openSession(values.cache);
  try {
    const runs = experimentRuns(session.index.runs, {
      names: values.name,
      pipeline: pipelineName,
      last: values.last === undefined ? undefined : parseCount(values.last, '--last', 0),
    });
    const opts = { all: values.all ?? false, metrics: values.metric ?? [] };
    const cols = chooseColumns(runs, opts);
    if (values.json) printJson(showJson(runs, cols));
    else if (values.csv) process.stdout.write(showCsv(runs, cols));
    else process.stdout.write(formatShowTable(runs, cols, opts));
    return EXIT.ok;
  } finally {
    session.close();
  }
}

async function expDiff(argv: string[]): Promise<number> {
  const parsed = parseCommand(SPECS['exp diff'], argv);
  if (parsed.help) return printHelp(SPECS['exp diff']);
  const { values, positionals } = parsed;
  if (positionals.length !== 2)
    throw new UsageError('expected two experiments: tailor exp diff A B (names, or run ids as #12)');
  const session = await openSession(values.cache);
  try {
    const runs = session.index.runs;
    const found = positionals.map((ref) => ({ ref, run: findExperimentRun(runs, ref) }));
    const missing = found.filter((f) => !f.run);
    if (missing.length > 0) {
      const known = [...new Set(experimentRuns(runs).map((r) => r.name))];
      process.stderr.write(
        `tailor: no experiment run ${missing.map((m) => `"${m.ref}"`).join(' or ')}${known.length ? `; known: ${known.join(', ')}` : ''}\n`,
      );
      return EXIT.usage;
    }
    const diff = diffRuns(found[0]!.run!, found[1]!.run!);
    if (values.json) printJson(diff);
    else process.stdout.write(formatDiff(diff));
    return EXIT.ok;
  } finally {
    session.close();
  }
}

async function expQueue(argv: string[]): Promise<number> {
  const parsed = parseCommand(SPECS['exp queue'], argv);
  if (parsed.help) return printHelp(SPECS['exp queue']);
  const { values, positionals } = parsed;
  const cacheDir = cacheDirFrom(values.cache, process.cwd());
  const queue = ExperimentQueue.open(cacheDir);
  try {
    if (values.run) {
      if (values.name !== undefined || positionals.length > 0)
        throw new UsageError('--run takes no pipeline or --name: it runs what is queued');
      return await runWorker(queue, cacheDir, parseCount(values.jobs, '--jobs', 2), values.follow ?? false);
    }
    if (values.cancel !== undefined) {
      const id = parseCount(values.cancel, '--cancel', 0);
      if (queue.cancel(id)) {
        process.stderr.write(`tailor: queue entry ${id} removed\n`);
        return EXIT.ok;
      }
      process.stderr.write(
        `tailor: no queued entry ${id} (running, finished and unknown entries cannot be cancelled)\n`,
      );
      return EXIT.failed;
    }
    if (values.name === undefined && positionals.length === 0 && !values.set)
      return listQueue(queue.list(), values.json ?? false);
    const name = checkName(values.name);
    const { pipeline: file } = takePipelineArg(positionals, 0);
    // Catch typos now rather than when the worker gets to it.
    if (!loadOrReport(file, values.set ?? [], undefined, values.cache)) return EXIT.usage;
    const entry = queue.add({
      name,
      pipeline: resolve(file),
      workdir: process.cwd(),
      sets: values.set ?? [],
      jobs: values.jobs === undefined ? undefined : parseCount(values.jobs, '--jobs', 2),
    });
    if (values.json) printJson({ queued: entry.id, name });
    else
      process.stderr.write(
        `tailor: queued "${name}" as entry ${entry.id}; run the queue with \`tailor exp queue --run\`\n`,
      );
    return EXIT.ok;
  } finally {
    queue.close();
  }
}

async function runWorker(queue: ExperimentQueue, cacheDir: string, jobs: number, follow: boolean): Promise<number> {
  const summary = await withInterrupts((signal) =>
    drainQueue(queue, {
      follow,
      signal,
      runExperiment: (entry, stop) => runQueued(entry, cacheDir, jobs, stop),
      log: (line) => process.stderr.write(`tailor: ${line}\n`),
    }),
  );
  process.stderr.write(
    `tailor: queue: ${summary.done} done, ${summary.failed} failed${summary.interrupted ? ', interrupted' : ''}\n`,
  );
  return summary.interrupted ? EXIT.interrupted : summary.failed > 0 ? EXIT.failed : EXIT.ok;
}

/** One queued experiment, as `tailor exp run` would run it from the folder it was queued in. */
async function runQueued(
  entry: QueueEntry,
  cacheDir: string,
  jobs: number,
  signal: AbortSignal,
): Promise<ExperimentEnd> {
  const loaded = loadPipeline(entry.pipeline, { sets: entry.sets, workdir: entry.workdir, cacheDir });
  if (!loaded.ok) {
    const first = loaded.error[0];
    return {
      state: 'failed',
      exitCode: EXIT.usage,
      message: first ? formatDiagnostic(first).split('\n')[0] : 'does not load',
    };
  }
  const session = await openSession(cacheDir, entry.workdir);
  try {
    const req = {
      experiment: entry.name,
      jobs: entry.jobs ?? jobs,
      json: false,
      quiet: false,
      waitSeconds: 24 * 3600,
    };
    const { code, result } = await runAndReport(session, loaded.value, req, signal);
    if (code === EXIT.ok) return { state: 'done', exitCode: code };
    if (code === EXIT.interrupted) return { state: 'interrupted', exitCode: code };
    const failedStages = result.ok ? result.value.outcomes.filter((o) => o.action === 'failed') : [];
    const message = !result.ok
      ? result.error.kind === 'params'
        ? 'params do not match their stage schemas'
        : result.error.message
      : failedStages.map((o) => `${o.name} failed: ${o.reasons?.[0] ?? ''}`).join('; ');
    return { state: 'failed', exitCode: code, message };
  } finally {
    session.close();
  }
}

function listQueue(entries: QueueEntry[], json: boolean): number {
  if (json) {
    printJson({ queue: entries });
    return EXIT.ok;
  }
  if (entries.length === 0) {
    process.stdout.write(
      'the queue is empty: add with `tailor exp queue [PIPELINE] --name NAME [--set STAGE.KEY=VALUE]...`\n',
    );
    return EXIT.ok;
  }
  const rows = entries.map((e) => [
    String(e.id),
    e.name,
    e.state,
    formatWhen(e.addedAt),
    e.pipeline.replace(/^.*\//, ''),
    e.sets.join(' '),
    e.message ?? (e.exitCode !== null && e.exitCode !== 0 ? `exit ${e.exitCode}` : ''),
  ]);
  process.stdout.write(
    renderTable(
      [
        { title: 'id', right: true },
        { title: 'name' },
        { title: 'state' },
        { title: 'added' },
        { title: 'pipeline' },
        { title: 'sets', max: 50 },
        { title: 'note', max: 50 },
      ],
      rows,
    ),
  );
  return EXIT.ok;
}
