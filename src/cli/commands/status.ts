/** `tailor status`: which stages are fresh, stale or never run, and why, in words. Runs nothing. */
import type { Pipeline } from '../../pipeline/types.js';
import { openRunRemote } from '../../remote/run-hooks.js';
import { remoteUrlFrom } from '../../remote/remote-url.js';
import type { TieredCache } from '../../remote/tiered-cache.js';
import { planPipeline, type RemoteLookup, type StagePlan } from '../../run/plan.js';
import type { Session } from '../../run/session.js';
import { exportNotes } from '../../run/workspace-exports.js';
import { EXIT, UsageError, loadOrReport, openSession, printHelp, printJson, takePipelineArg } from '../common.js';
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
  const remote = await openStatusRemote(remoteUrlFrom(values.remote), session);
  try {
    const planned = await planPipeline(session, pipeline, () => false, remote && lookupOf(remote));
    const plans = await withExportNotes(session, pipeline, planned);
    if (values.json) {
      printJson({
        ...(remote ? { remote: remote.url } : {}),
        stages: plans.map((p) => ({
          name: p.spec.name,
          state: p.state,
          reasons: p.reasons,
          ...(remote ? { remote: p.remote ?? null } : {}),
        })),
      });
    } else {
      process.stdout.write(formatStatus(plans, remote?.url));
    }
    return EXIT.ok;
  } finally {
    await remote?.cache.close();
    session.close();
  }
}

/** The remote status asks, if one is named; its warnings go to stderr (status prints no events otherwise). */
export async function openStatusRemote(
  url: string | undefined,
  session: Session,
): Promise<{ url: string; cache: TieredCache } | undefined> {
  if (!url) return undefined;
  const opened = await openRunRemote(url, session, {
    emit: (e) => {
      if (e.type === 'notice') process.stderr.write(`tailor: ${e.message}\n`);
    },
  });
  if (!opened.ok) throw new UsageError(opened.error);
  return { url, cache: opened.value };
}

/** Ask the remote alone (a fresh stage's "is it pushed?" too); unknown once the remote failed. */
export function lookupOf(remote: { cache: TieredCache }): RemoteLookup {
  return async (key) => (await remote.cache.lookupRemote(key)) ?? (remote.cache.remoteDown ? 'unknown' : undefined);
}

/** A fresh stage is not run again, but its exports may be missing or edited: say what a run does about them. */
async function withExportNotes(session: Session, pipeline: Pipeline, plans: StagePlan[]): Promise<StagePlan[]> {
  for (const p of plans) {
    if (p.state !== 'fresh' || !p.treeHash || Object.keys(p.spec.export).length === 0) continue;
    p.reasons.push(...(await exportNotes(session, pipeline, p.spec, session.store.pathOf(p.treeHash))));
  }
  return plans;
}

/** The status table; with a remote URL, each stage also says whether the remote has its output. */
export function formatStatus(plans: StagePlan[], remoteUrl?: string): string {
  const width = Math.max(5, ...plans.map((p) => p.spec.name.length));
  const lines = plans.map((p) => {
    const head = `${p.spec.name.padEnd(width)}  ${stateWords(p)}${remoteUrl ? `  [${remoteWords(p)}]` : ''}`;
    return [head, ...p.reasons.map((r) => `${' '.repeat(width + 2)}- ${r}`)].join('\n');
  });
  const stale = plans.filter((p) => p.state !== 'fresh').length;
  const notes = plans.filter((p) => p.state === 'fresh' && p.reasons.length > 0).length;
  if (remoteUrl) {
    const restorable = plans.filter((p) => p.action === 'restore' && !p.treeHash).length;
    lines.push(`remote ${remoteUrl}: ${plans.filter((p) => p.remote).length} of ${plans.length} stage(s) there`);
    if (restorable > 0) lines.push(`${restorable} stale stage(s) would be restored from the remote instead of run`);
  }
  lines.push(
    stale > 0
      ? `${stale} of ${plans.length} stage(s) would run or be restored`
      : notes > 0
        ? 'every stage is up to date; see the notes on exports above'
        : 'everything is up to date',
  );
  return lines.join('\n') + '\n';
}

function stateWords(p: StagePlan): string {
  if (p.state === 'fresh') return 'fresh';
  if (p.action !== 'restore') return p.state;
  return p.treeHash ? `${p.state} (restorable from cache)` : `${p.state} (restorable from the remote)`;
}

function remoteWords(p: StagePlan): string {
  return p.remote === undefined ? 'remote: unknown' : p.remote ? 'on remote' : 'not on remote';
}
