/**
 * `tailor watch [PIPELINE] [--set S.K=V]... [--stage N]... [--jobs N] [--debounce MS]`: run the
 * pipeline, then rerun the stale stages whenever the pipeline files, stage code or deps change.
 * See src/watch/watcher.ts for the states; each run is the run use case, with its own session.
 */
import { join } from 'node:path';
import { EXIT, UsageError, openSession, printDiagnostics, printHelp, takePipelineArg } from '../common.js';
import { SPECS } from '../command-specs.js';
import { withInterrupts } from '../interrupts.js';
import { parseCommand } from '../options.js';
import { parseCount, runAndReport } from '../run-reporting.js';
import { cacheDirFrom } from '../../run/session.js';
import { PipelineWatcher, type RunOnce } from '../../watch/watcher.js';

export async function watchCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand(SPECS.watch, argv);
  if (parsed.help) return printHelp(SPECS.watch);
  const { values, positionals } = parsed;
  const { pipeline: file } = takePipelineArg(positionals, 0);
  const debounceMs = parseCount(values.debounce, '--debounce', 200);
  if (debounceMs > 60_000) throw new UsageError('--debounce is in milliseconds and at most 60000');
  const jobs = parseCount(values.jobs, '--jobs', 2);
  const cacheDir = cacheDirFrom(values.cache, process.cwd());
  const runOnce: RunOnce = async (pipeline, signal, onEvent) => {
    const session = await openSession(values.cache, pipeline.workdir);
    try {
      const req = { stages: values.stage ?? [], jobs, json: false, quiet: values.quiet ?? false };
      const { result } = await runAndReport(session, pipeline, req, signal, onEvent);
      return !result.ok && result.error.kind === 'locked' ? 'locked' : 'done';
    } finally {
      session.close();
    }
  };
  const end = await withInterrupts((stop) =>
    new PipelineWatcher({
      file,
      sets: values.set ?? [],
      stages: values.stage ?? [],
      runOnce,
      stop,
      debounceMs,
      codeFactsFile: join(cacheDir, 'code-facts.json'),
      cacheDir,
      ignoreUnder: [cacheDir],
      log: (line) => process.stderr.write(line + '\n'),
      report: printDiagnostics,
    }).run(),
  );
  return end === 'interrupted' ? EXIT.interrupted : EXIT.ok;
}
