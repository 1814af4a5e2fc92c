/**
 * `tailor exp`: experiments over one shared cache.
 *
 *   exp run [PIPELINE] [--name N] [--set S.K=V1,V2]... [run options]   one experiment or a sweep
 *   exp show [PIPELINE] [--all] [--columns LIST] [--sort-by COL] [--json|--csv|--md] [--html FILE]
 *   exp diff [A] B [--json]               names (latest run), run ids (#12) or baseline
 *   exp apply NAME | exp remove NAME...
 *   exp queue [PIPELINE] --name NAME [--set ...] [--jobs N]      add to the queue
 *   exp queue --run [--jobs N] [--follow]                       run queued experiments in turn
 *   exp queue [--json] | exp queue --cancel ID                   list | remove a queued entry
 *
 * `exp run` (exp-run.ts) and every queued experiment go through the run use case (runAndReport);
 * show, diff, apply and remove live in exp-compare.ts.
 */
import { resolve } from 'node:path';
import { formatDiagnostic } from '../../pipeline/diagnostics.js';
import { loadPipeline } from '../../pipeline/load.js';
import { EXIT, UsageError, loadOrReport, openSession, printHelp, printJson, takePipelineArg } from '../common.js';
import { SPECS } from '../command-specs.js';
import { withInterrupts } from '../interrupts.js';
import { parseCommand } from '../options.js';
import { parseCount, runAndReport } from '../run-reporting.js';
import { cacheDirFrom } from '../../run/session.js';
import { formatWhen } from '../../exp/history.js';
import { ExperimentQueue, type QueueEntry } from '../../exp/queue-db.js';
import { drainQueue, type ExperimentEnd } from '../../exp/queue-worker.js';
import { renderTable } from '../../exp/text-table.js';
import { checkName, expRun, namesFor } from './exp-run.js';
import { expandGrid } from '../../exp/sweep.js';
import { expApply, expDiff, expRemove, expShow } from './exp-compare.js';

const SUBCOMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  run: expRun,
  show: expShow,
  diff: expDiff,
  apply: expApply,
  remove: expRemove,
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
    if (values.name === undefined) throw new UsageError('--name NAME is required: the experiment to queue');
    const prefix = checkName(values.name);
    const { pipeline: file } = takePipelineArg(positionals, 0);
    // A sweep queues one entry per point, named as `exp run` names them.
    const points = expandGrid(values.set ?? []);
    const names = namesFor(prefix, points);
    // Catch typos now rather than when the worker gets to it.
    for (const p of points) if (!loadOrReport(file, p.sets, undefined, values.cache)) return EXIT.usage;
    const entries = points.map((p, i) =>
      queue.add({
        name: names[i] as string,
        pipeline: resolve(file),
        workdir: process.cwd(),
        sets: p.sets,
        jobs: values.jobs === undefined ? undefined : parseCount(values.jobs, '--jobs', 2),
      }),
    );
    if (values.json)
      printJson(
        entries.length === 1
          ? { queued: entries[0]!.id, name: prefix }
          : { queued: entries.map((e) => ({ id: e.id, name: e.name })) },
      );
    else
      for (const entry of entries)
        process.stderr.write(
          `tailor: queued "${entry.name}" as entry ${entry.id}; run the queue with \`tailor exp queue --run\`\n`,
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
