/**
 * `tailor watch [PIPELINE] [--set S.K=V]... [--stage N]... [--jobs N] [--debounce MS]`: run the
 * pipeline, then rerun the stale stages whenever the pipeline files, stage code or deps change.
 * See src/watch/watcher.ts for the states.
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { EXIT, UsageError, takePipelineArg } from '../common.js';
import { formatDiagnostic } from '../../pipeline/diagnostics.js';
import { cacheDirFrom } from '../../run/session.js';
import { PipelineWatcher } from '../../watch/watcher.js';
import { withStopSignals } from '../stop-signals.js';
import { parseCount, runPipelineRequest, runRequestFrom } from './run.js';

export async function watchCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      set: { type: 'string', multiple: true },
      stage: { type: 'string', multiple: true },
      jobs: { type: 'string' },
      cache: { type: 'string' },
      debounce: { type: 'string' },
      quiet: { type: 'boolean' },
    },
  });
  const { pipeline: file } = takePipelineArg(positionals, 0);
  const debounceMs = parseCount(values.debounce, '--debounce', 200);
  if (debounceMs > 60_000) throw new UsageError('--debounce is in milliseconds and at most 60000');
  const cacheDir = cacheDirFrom(values.cache, process.cwd());
  const watcher = new PipelineWatcher({
    request: runRequestFrom(file, {
      set: values.set,
      stage: values.stage,
      jobs: values.jobs,
      cache: values.cache,
      quiet: values.quiet,
    }),
    runPipeline: runPipelineRequest,
    debounceMs,
    codeFactsFile: join(cacheDir, 'code-facts.json'),
    ignoreUnder: [cacheDir],
    log: (line) => process.stderr.write(line + '\n'),
    report: (diags) => {
      for (const d of diags) process.stderr.write(formatDiagnostic(d, { color: Boolean(process.stderr.isTTY) }) + '\n');
    },
  });
  let signals = 0;
  const onSignal = () => {
    // A second Ctrl-C during a run is the run's own (it exits at once); a third always ends us.
    signals++;
    if (signals >= 3 || (signals === 2 && !watcher.busy)) process.exit(EXIT.interrupted);
    watcher.stop();
  };
  return withStopSignals(onSignal, () => watcher.run());
}
