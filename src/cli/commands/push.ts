/** `tailor push [PIPELINE] [--stage NAME]... [--remote URL]`: upload each stage's latest output and its key's record. */
import { EXIT, loadOrReport, openSession, printHelp, takePipelineArg } from '../common.js';
import { SPECS } from '../command-specs.js';
import { parseCommand } from '../options.js';
import { requireRemoteUrl, runTransfer, selectStages } from '../remote-options.js';
import { pushPipeline } from '../../remote/pipeline-transfer.js';

export async function pushCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand(SPECS.push, argv);
  if (parsed.help) return printHelp(SPECS.push);
  const { values, positionals } = parsed;
  const { pipeline: file } = takePipelineArg(positionals, 0);
  const url = requireRemoteUrl(values.remote);
  const pipeline = loadOrReport(file, [], undefined, values.cache);
  if (!pipeline) return EXIT.usage;
  const selected = selectStages(pipeline, file, values.stage ?? []);
  const session = await openSession(values.cache, pipeline.workdir);
  try {
    return await runTransfer('push', url, session, values, (cache) => pushPipeline(cache, pipeline, selected));
  } finally {
    session.close();
  }
}
