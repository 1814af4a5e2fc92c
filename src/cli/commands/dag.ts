/** `tailor dag`: the pipeline's graph as text, Mermaid or Graphviz dot. */
import { parseArgs } from 'node:util';
import { EXIT, UsageError, loadOrReport, takePipelineArg } from '../common.js';
import { formatDag } from '../../pipeline/dag.js';

const FORMATS = ['text', 'mermaid', 'dot'] as const;

export async function dagCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    // --cache is accepted as on every command (scripts pass it everywhere); the graph needs none.
    options: {
      format: { type: 'string', default: 'text' },
      set: { type: 'string', multiple: true },
      cache: { type: 'string' },
    },
  });
  const format = values.format as (typeof FORMATS)[number];
  if (!FORMATS.includes(format))
    throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, got "${values.format}"`);
  const { pipeline: file } = takePipelineArg(positionals, 0);
  const pipeline = loadOrReport(file, values.set ?? [], undefined, values.cache);
  if (!pipeline) return EXIT.usage;
  process.stdout.write(formatDag(pipeline, format).replace(/\n?$/, '\n'));
  return EXIT.ok;
}
