/** `tailor report [PIPELINE] [--out FILE]`: one self-contained HTML page about the pipeline's runs. */
import { resolve } from 'node:path';
import { EXIT, UsageError, loadOrReport, printHelp, takePipelineArg } from '../common.js';
import { SPECS } from '../command-specs.js';
import { parseCommand } from '../options.js';
import { parseMetricChoice } from '../../report/index.js';
import { writeReportFor } from '../report-hook.js';

export async function reportCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand(SPECS.report, argv);
  if (parsed.help) return printHelp(SPECS.report);
  const { values, positionals } = parsed;
  const { pipeline: file } = takePipelineArg(positionals, 0);
  const pipeline = loadOrReport(file, values.set ?? [], undefined, values.cache);
  if (!pipeline) return EXIT.usage;
  if (values.metric !== undefined && !parseMetricChoice(pipeline, values.metric)) {
    throw new UsageError(
      `--metric expects STAGE.PATH with a stage of ${file} (e.g. ${pipeline.stages.at(-1)?.name ?? 'stage'}.holdout.micro_f1), got "${values.metric}"`,
    );
  }
  // --out is relative to where tailor runs, like every other path argument.
  const out = values.out === undefined ? undefined : resolve(values.out);
  const path = await writeReportFor(pipeline, values.cache, out, { metric: values.metric });
  process.stdout.write(`wrote ${path}\n`);
  return EXIT.ok;
}
