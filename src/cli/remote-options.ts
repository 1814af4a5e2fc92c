/** What `push`, `pull` and `gc --remote` share: the remote URL, stage selection, the remote cache over a session. */
import { upstream } from '../pipeline/dag.js';
import type { Pipeline } from '../pipeline/types.js';
import { LocalCache } from '../remote/local-cache.js';
import { RemoteCache } from '../remote/remote-cache.js';
import { remoteUrlFrom } from '../remote/remote-url.js';
import type { StageTransfer } from '../remote/pipeline-transfer.js';
import type { TransferListener } from '../remote/transfer-meter.js';
import type { Session } from '../run/session.js';
import { EXIT, UsageError, loadOrReport, openSession, printJson, takePipelineArg } from './common.js';
import { parseCount } from './run-reporting.js';
import { suggestName } from './suggest.js';
import { withInterrupts } from './interrupts.js';
import { formatTransferSummary, TransferPrinter } from './transfer-printer.js';

/** The remote URL from --remote or $TAILOR_REMOTE; a usage error when there is none. */
export function requireRemoteUrl(flag: string | undefined): string {
  const url = remoteUrlFrom(flag);
  if (!url)
    throw new UsageError('no remote given: pass --remote s3://BUCKET[/PREFIX] or file:///PATH, or set TAILOR_REMOTE');
  return url;
}

/** The stages `--stage` names (group names expand) with everything upstream of them; all stages when none. */
export function selectStages(pipeline: Pipeline, file: string, names: string[]): Set<string> {
  const all = new Set(pipeline.stages.map((s) => s.name));
  const groups = new Set(pipeline.stages.map((s) => s.group));
  for (const n of names)
    if (!all.has(n) && !groups.has(n)) throw new UsageError(`no stage "${n}" in ${file}${suggestName(n, all)}`);
  return names.length > 0 ? upstream(pipeline, names) : all;
}

/** What push and pull work on: the remote, the pipeline, the stages `--stage` selects and an open session. */
export interface TransferTarget {
  url: string;
  pipeline: Pipeline;
  selected: Set<string>;
  session: Session;
}

/** The transfer target of push/pull's arguments; undefined when the pipeline did not load (reported). */
export async function openTransferTarget(
  values: { remote?: string; cache?: string; stage?: string[] },
  positionals: string[],
): Promise<TransferTarget | undefined> {
  const { pipeline: file } = takePipelineArg(positionals, 0);
  const url = requireRemoteUrl(values.remote);
  const pipeline = loadOrReport(file, [], undefined, values.cache);
  if (!pipeline) return undefined;
  const selected = selectStages(pipeline, file, values.stage ?? []);
  return { url, pipeline, selected, session: await openSession(values.cache, pipeline.workdir) };
}

/** Open the remote cache over a session; a bad URL is a usage error. */
export async function openRemoteCache(
  url: string,
  session: Session,
  jobs: string | undefined,
  onEvent?: TransferListener,
  signal?: AbortSignal,
): Promise<RemoteCache> {
  const cache = await RemoteCache.open(url, new LocalCache(session), {
    concurrency: parseCount(jobs, '--jobs', 8) || 1,
    onEvent,
    signal,
  });
  if (!cache.ok) throw new UsageError(cache.error);
  return cache.value;
}

/**
 * One push or pull: progress on stderr (none with --json), Ctrl-C stops the transfers, then the
 * summary (or the JSON answer) and the exit code: 1 when a transfer failed, 130 when interrupted.
 */
export async function runTransfer(
  verb: 'push' | 'pull',
  url: string,
  session: Session,
  values: { jobs?: string; json?: boolean },
  work: (cache: RemoteCache) => Promise<Array<StageTransfer<string>>>,
): Promise<number> {
  const printer = values.json ? undefined : new TransferPrinter();
  return withInterrupts(async (signal) => {
    const cache = await openRemoteCache(url, session, values.jobs, (e) => printer?.handle(e), signal);
    const started = Date.now();
    try {
      const stages = await work(cache);
      const seconds = (Date.now() - started) / 1000;
      const retries = cache.remote.counters.retries + (printer?.retries ?? 0);
      printer?.close();
      if (values.json) printJson({ remote: url, stages, seconds, retries });
      else process.stdout.write(formatTransferSummary(verb, url, stages, seconds, retries));
      if (signal.aborted) return EXIT.interrupted;
      return stages.some((s) => s.state === 'error') ? EXIT.failed : EXIT.ok;
    } finally {
      await cache.close();
    }
  });
}
