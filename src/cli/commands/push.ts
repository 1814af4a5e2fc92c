/** `tailor push [PIPELINE] [--stage NAME]... [--remote URL]`: upload each stage's latest output and its key's record. */
import { parseArgs } from 'node:util';
import { EXIT, loadOrReport, openSession, takePipelineArg } from '../common.js';
import { requireRemoteUrl, runTransfer, selectStages, TRANSFER_OPTIONS } from '../remote-options.js';
import { pushPipeline } from '../../remote/pipeline-transfer.js';

export async function pushCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: TRANSFER_OPTIONS });
  const { pipeline: file } = takePipelineArg(positionals, 0);
  const url = requireRemoteUrl(values.remote);
  const pipeline = loadOrReport(file, []);
  if (!pipeline) return EXIT.usage;
  const selected = selectStages(pipeline, file, values.stage ?? []);
  const session = await openSession(values.cache, pipeline.workdir);
  try {
    return await runTransfer('push', url, session, values, (cache) => pushPipeline(cache, pipeline, selected));
  } finally {
    session.close();
  }
}
