/** `tailor dag`: the pipeline's graph as text, Mermaid or Graphviz dot. */
import { EXIT, UsageError, loadOrReport, printHelp, takePipelineArg } from '../common.js';
import { SPECS } from '../command-specs.js';
import { parseCommand } from '../options.js';
import { formatDag } from '../../pipeline/dag.js';

const FORMATS = ['text', 'mermaid', 'dot'] as const;

export async function dagCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand(SPECS.dag, argv);
  if (parsed.help) return printHelp(SPECS.dag);
  const { values, positionals } = parsed;
  const format = values.format as (typeof FORMATS)[number];
  if (!FORMATS.includes(format))
    throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, got "${values.format}"`);
  const { pipeline: file } = takePipelineArg(positionals, 0);
  const pipeline = loadOrReport(file, values.set ?? [], undefined, values.cache);
  if (!pipeline) return EXIT.usage;
  process.stdout.write(formatDag(pipeline, format).replace(/\n?$/, '\n'));
  return EXIT.ok;
}
