/** `tailor show [PIPELINE] STAGE`: where a stage's latest output is, and its metrics. */
import { parseArgs } from 'node:util';
import { EXIT, UsageError, loadOrReport, openSession, printJson, takePipelineArg } from '../common.js';
import { suggestName } from '../suggest.js';

export async function showCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { json: { type: 'boolean' }, cache: { type: 'string' }, set: { type: 'string', multiple: true } },
  });
  const { pipeline: file, rest } = takePipelineArg(positionals, 1);
  const stage = rest[0];
  if (!stage) throw new UsageError('tailor show [PIPELINE] STAGE: which stage?');
  const pipeline = loadOrReport(file, values.set ?? [], undefined, values.cache);
  if (!pipeline) return EXIT.usage;
  if (!pipeline.stages.some((s) => s.name === stage)) {
    process.stderr.write(
      `tailor: no stage "${stage}" in ${file}${suggestName(
        stage,
        pipeline.stages.map((s) => s.name),
      )}\n`,
    );
    return EXIT.usage;
  }
  const session = await openSession(values.cache);
  try {
    const latest = session.index.getLatest(pipeline.name, stage);
    if (!latest || !session.store.exists(latest.treeHash)) {
      process.stderr.write(`tailor: ${stage} has no output yet; run \`tailor run ${file} --stage ${stage}\`\n`);
      return EXIT.failed;
    }
    const out = session.store.pathOf(latest.treeHash);
    if (values.json) printJson({ stage, out, metrics: latest.metrics });
    else
      process.stdout.write(
        `${stage}\n  out: ${out}\n  key: ${latest.stageKey}\n  metrics: ${JSON.stringify(latest.metrics, null, 2).replace(/\n/g, '\n  ')}\n`,
      );
    return EXIT.ok;
  } finally {
    session.close();
  }
}
