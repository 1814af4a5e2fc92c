/** `tailor status`: which stages are fresh, stale or never run, and why, in words. Runs nothing. */
import type { Pipeline } from '../../pipeline/types.js';
import { planPipeline, type StagePlan } from '../../run/plan.js';
import type { Session } from '../../run/session.js';
import { exportNotes } from '../../run/workspace-exports.js';
import { EXIT, loadOrReport, openSession, printHelp, printJson, takePipelineArg } from '../common.js';
import { SPECS } from '../command-specs.js';
import { parseCommand } from '../options.js';

export async function statusCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand(SPECS.status, argv);
  if (parsed.help) return printHelp(SPECS.status);
  const { values, positionals } = parsed;
  const { pipeline: file } = takePipelineArg(positionals, 0);
  const pipeline = loadOrReport(file, values.set ?? [], undefined, values.cache);
  if (!pipeline) return EXIT.usage;
  const session = await openSession(values.cache);
  try {
    const plans = await withExportNotes(session, pipeline, await planPipeline(session, pipeline, () => false));
    if (values.json) {
      printJson({ stages: plans.map((p) => ({ name: p.spec.name, state: p.state, reasons: p.reasons })) });
    } else {
      process.stdout.write(formatStatus(plans));
    }
    return EXIT.ok;
  } finally {
    session.close();
  }
}

/** A fresh stage is not run again, but its exports may be missing or edited: say what a run does about them. */
async function withExportNotes(session: Session, pipeline: Pipeline, plans: StagePlan[]): Promise<StagePlan[]> {
  for (const p of plans) {
    if (p.state !== 'fresh' || !p.treeHash || Object.keys(p.spec.export).length === 0) continue;
    p.reasons.push(...(await exportNotes(session, pipeline, p.spec, session.store.pathOf(p.treeHash))));
  }
  return plans;
}

export function formatStatus(plans: StagePlan[]): string {
  const width = Math.max(5, ...plans.map((p) => p.spec.name.length));
  const lines = plans.map((p) => {
    const what =
      p.state === 'fresh' ? 'fresh' : p.action === 'restore' ? `${p.state} (restorable from cache)` : p.state;
    const head = `${p.spec.name.padEnd(width)}  ${what}`;
    return [head, ...p.reasons.map((r) => `${' '.repeat(width + 2)}- ${r}`)].join('\n');
  });
  const stale = plans.filter((p) => p.state !== 'fresh').length;
  const notes = plans.filter((p) => p.state === 'fresh' && p.reasons.length > 0).length;
  lines.push(
    stale > 0
      ? `${stale} of ${plans.length} stage(s) would run or be restored`
      : notes > 0
        ? 'every stage is up to date; see the notes on exports above'
        : 'everything is up to date',
  );
  return lines.join('\n') + '\n';
}
