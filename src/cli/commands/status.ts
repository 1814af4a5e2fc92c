/** `tailor status`: which stages are fresh, stale or never run, and why, in words. Runs nothing. */
import { parseArgs } from 'node:util';
import { EXIT, loadOrReport, openSession, printJson, takePipelineArg } from '../common.js';
import { planPipeline, type StagePlan } from '../../run/plan.js';

export async function statusCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { set: { type: 'string', multiple: true }, json: { type: 'boolean' }, cache: { type: 'string' } },
  });
  const { pipeline: file } = takePipelineArg(positionals, 0);
  const pipeline = loadOrReport(file, values.set ?? [], undefined, values.cache);
  if (!pipeline) return EXIT.usage;
  const session = await openSession(values.cache);
  try {
    const plans = await planPipeline(session, pipeline, () => false);
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

export function formatStatus(plans: StagePlan[]): string {
  const width = Math.max(5, ...plans.map((p) => p.spec.name.length));
  const lines = plans.map((p) => {
    const what =
      p.state === 'fresh' ? 'fresh' : p.action === 'restore' ? `${p.state} (restorable from cache)` : p.state;
    const head = `${p.spec.name.padEnd(width)}  ${what}`;
    return p.state === 'fresh' ? head : [head, ...p.reasons.map((r) => `${' '.repeat(width + 2)}- ${r}`)].join('\n');
  });
  const stale = plans.filter((p) => p.state !== 'fresh').length;
  lines.push(
    stale === 0 ? 'everything is up to date' : `${stale} of ${plans.length} stage(s) would run or be restored`,
  );
  return lines.join('\n') + '\n';
}
