/**
 * `tailor exp`: experiments over one shared cache.
 *
 *   exp run [PIPELINE] --name NAME [--set STAGE.KEY=VALUE]... [run options]
 *   exp show [PIPELINE] [--all] [--metric TEXT]... [--name NAME]... [--last N] [--json|--csv]
 *   exp diff A B [--json]                 A, B: experiment names (latest run) or run ids (#12)
 *   exp queue [PIPELINE] --name NAME [--set ...] [--jobs N]      add to the queue
 *   exp queue --run [--jobs N] [--follow]                       run queued experiments in turn
 *   exp queue [--json] | exp queue --cancel ID                   list | remove a queued entry
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { pipelineId } from '../../pipeline/load.js';
import { EXIT, UsageError, loadOrReport, openSession, printJson, takePipelineArg } from '../common.js';
import { RUN_OPTIONS, parseCount, runPipelineRequest, runRequestFrom } from './run.js';
import { cacheDirFrom } from '../../run/session.js';
import { experimentRuns, findExperimentRun, formatWhen } from '../../exp/history.js';
import { chooseColumns, formatShowTable, showCsv, showJson } from '../../exp/show.js';
import { diffRuns, formatDiff } from '../../exp/diff.js';
import { ExperimentQueue, type QueueEntry } from '../../exp/queue-db.js';
import { drainQueue } from '../../exp/queue-worker.js';
import { renderTable } from '../../exp/text-table.js';
import { withStopSignals } from '../stop-signals.js';

const SUBCOMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  run: expRun,
  show: expShow,
  diff: expDiff,
  queue: expQueue,
};

export async function expCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
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
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...RUN_OPTIONS, name: { type: 'string' } },
  });
  const name = checkName(values.name);
  const { pipeline: file } = takePipelineArg(positionals, 0);
  const result = await runPipelineRequest({ ...runRequestFrom(file, values), experiment: name });
  if (result.code === EXIT.ok && !values['dry-run'])
    process.stderr.write(`tailor: experiment "${name}" recorded; compare runs with \`tailor exp show\`\n`);
  return result.code;
}

async function expShow(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      all: { type: 'boolean' },
      json: { type: 'boolean' },
      csv: { type: 'boolean' },
      metric: { type: 'string', multiple: true },
      name: { type: 'string', multiple: true },
      last: { type: 'string' },
      cache: { type: 'string' },
    },
  });
  if (values.json && values.csv) throw new UsageError('--json and --csv: pick one');
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
  // harden-input: runs are recorded under the pipeline's path from the working folder.
  const pipelineName = positionals[0] === undefined ? undefined : pipelineId(positionals[0], process.cwd());
  const session = await openSession(values.cache);
  try {
    const runs = experimentRuns(session.index, {
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
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { json: { type: 'boolean' }, cache: { type: 'string' } },
  });
  if (positionals.length !== 2)
    throw new UsageError('expected two experiments: tailor exp diff A B (names, or run ids as #12)');
  const session = await openSession(values.cache);
  try {
    const found = positionals.map((ref) => ({ ref, run: findExperimentRun(session.index, ref) }));
    const missing = found.filter((f) => !f.run);
    if (missing.length > 0) {
      const known = [...new Set(experimentRuns(session.index).map((r) => r.name))];
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
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      set: { type: 'string', multiple: true },
      jobs: { type: 'string' },
      run: { type: 'boolean' },
      follow: { type: 'boolean' },
      cancel: { type: 'string' },
      json: { type: 'boolean' },
      cache: { type: 'string' },
    },
  });
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
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(EXIT.interrupted);
    process.stderr.write(`\ntailor: ${sig}: stopping the queue after the current experiment is interrupted\n`);
    controller.abort(sig);
  };
  return withStopSignals(onSignal, async () => {
    const summary = await drainQueue(queue, {
      cacheDir,
      jobs,
      follow,
      signal: controller.signal,
      log: (line) => process.stderr.write(`tailor: ${line}\n`),
    });
    process.stderr.write(
      `tailor: queue: ${summary.done} done, ${summary.failed} failed${summary.interrupted ? ', interrupted' : ''}\n`,
    );
    return summary.interrupted ? EXIT.interrupted : summary.failed > 0 ? EXIT.failed : EXIT.ok;
  });
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
