/** `tailor show [PIPELINE] STAGE`: where a stage's latest output is, its metrics, and its last failure. */
import { unknownStage } from '../../run/stage-selection.js';
import { EXIT, UsageError, loadOrReport, openSession, printHelp, printJson, takePipelineArg } from '../common.js';
import { SPECS } from '../command-specs.js';
import { parseCommand } from '../options.js';

export async function showCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand(SPECS.show, argv);
  if (parsed.help) return printHelp(SPECS.show);
  const { values, positionals } = parsed;
  const { pipeline: file, rest } = takePipelineArg(positionals, 1);
  const stage = rest[0];
  if (!stage) throw new UsageError('tailor show [PIPELINE] STAGE: which stage?');
  const pipeline = loadOrReport(file, values.set ?? [], undefined, values.cache);
  if (!pipeline) return EXIT.usage;
  const unknown = pipeline.stages.some((s) => s.name === stage) ? undefined : unknownStage(pipeline, [stage]);
  if (unknown) {
    process.stderr.write(`tailor: ${unknown}\n`);
    return EXIT.usage;
  }
  const session = await openSession(values.cache);
  try {
    const latest = session.index.outputs.getLatest(pipeline.name, stage);
    const last = session.index.runs.lastStageRun(pipeline.name, stage);
    // A failure older than the output shown is history, not news.
    const failure = last?.action === 'failed' && (!latest || last.end >= latest.createdAt) ? last : undefined;
    const failureLine = failure
      ? `its last run failed: ${failure.error ?? failure.status}${failure.logPath ? ` (log: ${failure.logPath})` : ''}`
      : undefined;
    const rerun = `\`tailor run ${file} --stage ${stage}\``;
    if (!latest || !session.store.exists(latest.treeHash)) {
      const why = !latest
        ? `${stage} has no output yet`
        : `the output of ${stage} (${latest.treeHash.slice(0, 12)}) is missing from the cache (deleted?)`;
      process.stderr.write(`tailor: ${why}${failureLine ? `; ${failureLine}` : ''}; ${rerun} runs it\n`);
      return EXIT.failed;
    }
    const out = session.store.pathOf(latest.treeHash);
    if (values.json) printJson({ stage, out, metrics: latest.metrics, ...(failure ? { error: failure.error } : {}) });
    else
      process.stdout.write(
        `${stage}\n  out: ${out}\n  key: ${latest.stageKey}\n` +
          (failureLine ? `  ${failureLine} (the output above is from before)\n` : '') +
          `  metrics: ${JSON.stringify(latest.metrics, null, 2).replace(/\n/g, '\n  ')}\n`,
      );
    return EXIT.ok;
  } finally {
    session.close();
  }
}
