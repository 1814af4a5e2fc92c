/** `tailor push [PIPELINE] [--stage NAME]... [--remote URL]`: upload each stage's latest output and its key's record. */
import { parseArgs } from 'node:util';
import { EXIT, loadOrReport, openSession, printJson, takePipelineArg } from '../common.js';
import {
  abortOnSignals,
  openRemoteCache,
  requireRemoteUrl,
  selectStages,
  TRANSFER_OPTIONS,
} from '../remote-options.js';
import { formatTransferSummary, TransferPrinter } from '../transfer-printer.js';
import { pushPipeline } from '../../remote/pipeline-transfer.js';

export async function pushCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: TRANSFER_OPTIONS });
  const { pipeline: file } = takePipelineArg(positionals, 0);
  const url = requireRemoteUrl(values.remote);
  const pipeline = loadOrReport(file, []);
  if (!pipeline) return EXIT.usage;
  const selected = selectStages(pipeline, file, values.stage ?? []);
  const session = await openSession(values.cache, pipeline.workdir);
  const printer = values.json ? undefined : new TransferPrinter();
  const abort = abortOnSignals();
  const cache = openRemoteCache(url, session, values.jobs, (e) => printer?.handle(e), abort.signal);
  const started = Date.now();
  try {
    const stages = await pushPipeline(cache, pipeline, selected);
    const seconds = (Date.now() - started) / 1000;
    const retries = cache.remote.counters.retries + (printer?.retries ?? 0);
    printer?.close();
    if (values.json) printJson({ remote: url, stages, seconds, retries });
    else process.stdout.write(formatTransferSummary('push', url, stages, seconds, retries));
    if (abort.signal.aborted) return EXIT.interrupted;
    return stages.some((s) => s.state === 'error') ? EXIT.failed : EXIT.ok;
  } finally {
    abort.stop();
    await cache.close();
    session.close();
  }
}
