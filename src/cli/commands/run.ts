/** `tailor run`: bring a pipeline up to date, running only stale stages (the use case: src/run/run-pipeline.ts). */
import { checkStageParams } from '../../pipeline/check-params.js';
import type { Pipeline } from '../../pipeline/types.js';
import { planPipeline } from '../../run/plan.js';
import type { Session } from '../../run/session.js';
import { selectStages } from '../../run/stage-selection.js';
import { EXIT, loadOrReport, openSession, printDiagnostics, printHelp, printJson, takePipelineArg } from '../common.js';
import { SPECS } from '../command-specs.js';
import { withInterrupts } from '../interrupts.js';
import { parseCommand } from '../options.js';
import { cliRunFrom, runAndReport } from '../run-reporting.js';
import { formatStatus, lookupOf, openStatusRemote } from './status.js';
import { openDistributed } from '../distributed-run.js';

/** Stages in flight at once in a distributed run unless --jobs says otherwise. */
const DISTRIBUTED_JOBS = 64;

export async function runCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand(SPECS.run, argv);
  if (parsed.help) return printHelp(SPECS.run);
  const { values, positionals } = parsed;
  const { pipeline: file } = takePipelineArg(positionals, 0);
  const req = cliRunFrom(values);
  const sets = values.set ?? [];
  const pipeline = loadOrReport(file, sets, undefined, values.cache);
  if (!pipeline) return EXIT.usage;
  const session = await openSession(values.cache, pipeline.workdir);
  let code: number;
  try {
    if (values['dry-run']) return await dryRun(session, pipeline, req, req.json);
    const distributed = await openDistributed(values, session, pipeline);
    // The lock file records the pipeline as committed: not --set variants.
    // With an executor the workers (or Slurm) bound how many stages run at once, not --jobs' default.
    const jobs = distributed && values.jobs === undefined ? DISTRIBUTED_JOBS : req.jobs;
    const run = { ...req, jobs, writeLockFile: sets.length === 0, executor: distributed?.executor };
    try {
      code = (await withInterrupts((signal) => runAndReport(session, pipeline, run, signal))).code;
    } finally {
      await distributed?.close();
    }
  } finally {
    session.close();
  }
  if (values.report && code !== EXIT.usage) {
    const { writeReportFor } = await import('../report-hook.js');
    process.stderr.write(`tailor: wrote report ${await writeReportFor(pipeline, values.cache)}\n`);
  }
  return code;
}

export async function dryRun(
  session: Session,
  pipeline: Pipeline,
  req: { stages?: string[]; force?: string[]; forceAll?: boolean; remote?: { url: string } },
  json: boolean,
): Promise<number> {
  const selection = selectStages(pipeline, req);
  if (!selection.ok) {
    process.stderr.write(`tailor: ${selection.error}\n`);
    return EXIT.usage;
  }
  const paramErrors = await checkStageParams(pipeline);
  if (paramErrors.length > 0) {
    printDiagnostics(paramErrors);
    return EXIT.usage;
  }
  const { selected, force } = selection.value;
  const remote = await openStatusRemote(req.remote?.url, session);
  let plans;
  try {
    plans = (await planPipeline(session, pipeline, force, remote && lookupOf(remote))).filter((p) =>
      selected.has(p.spec.name),
    );
  } finally {
    await remote?.cache.close();
  }
  if (json) {
    printJson({
      stages: plans.map((p) => ({
        name: p.spec.name,
        action: p.action === 'run' ? 'run' : 'cached',
        ...(p.action === 'restore' && !p.treeHash ? { from: 'remote' } : {}),
        state: p.state,
        reasons: p.reasons,
      })),
    });
  } else {
    const toRun = plans.filter((p) => p.action === 'run');
    process.stdout.write(formatStatus(plans, remote?.url));
    process.stdout.write(
      toRun.length === 0
        ? 'dry run: nothing would run\n'
        : `dry run: would run ${toRun.map((p) => p.spec.name).join(', ')}\n`,
    );
  }
  return EXIT.ok;
}
