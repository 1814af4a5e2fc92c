/** `tailor push [PIPELINE] [--stage NAME]... [--remote URL]`: upload each stage's latest output and its key's record. */
import { EXIT, printHelp } from '../common.js';
import { SPECS } from '../command-specs.js';
import { parseCommand } from '../options.js';
import { openTransferTarget, runTransfer } from '../remote-options.js';
import { pushPipeline } from '../../remote/pipeline-transfer.js';

export async function pushCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand(SPECS.push, argv);
  if (parsed.help) return printHelp(SPECS.push);
  const target = await openTransferTarget(parsed.values, parsed.positionals);
  if (!target) return EXIT.usage;
  const { url, pipeline, selected, session } = target;
  try {
    return await runTransfer('push', url, session, parsed.values, (cache) => pushPipeline(cache, pipeline, selected));
  } finally {
    session.close();
  }
}
