/**
 * `tailor gc --remote URL [--dry-run] [--grace DURATION]`: remove from a remote cache what no lock
 * file (beside a known pipeline or under `pipelines/`) and no recent run of the local cache refers to (src/remote/remote-gc.ts
 * says in what order, and how a concurrent push is kept safe). Only an explicit --remote collects
 * a remote: $TAILOR_REMOTE alone never makes a plain `tailor gc` delete shared objects.
 */
import { EXIT, UsageError, openSession, printJson } from '../common.js';
import { lockFileRoots } from '../../cache/gc-roots.js';
import { durationSeconds } from '../../pipeline/duration.js';
import { formatBytes } from '../transfer-printer.js';
import { LocalCache } from '../../remote/local-cache.js';
import { openRemote } from '../../remote/open-remote.js';
import { collectRemoteGarbage, type RemoteGcReport } from '../../remote/remote-gc.js';

export interface RemoteGcFlags {
  remote: string;
  grace?: string;
  dryRun: boolean;
  keepRuns: number;
  cache?: string;
  json: boolean;
}

export async function gcRemoteCommand(flags: RemoteGcFlags): Promise<number> {
  const grace = flags.grace ?? '1h';
  const graceSeconds = durationSeconds(grace);
  if (graceSeconds === undefined)
    throw new UsageError(`--grace expects a duration such as 90s, 30m, 1h or 7d, got "${grace}"`);
  const graceMs = graceSeconds * 1000;
  const remote = await openRemote(flags.remote);
  if (!remote.ok) throw new UsageError(remote.error);
  const session = await openSession(flags.cache);
  try {
    const keepKeys = new Set<string>();
    const keepTrees = new LocalCache(session).treesInUse(flags.keepRuns);
    // Lock files beside every pipeline the local index knows, and anywhere under pipelines/.
    for (const entry of lockFileRoots(session.index, process.cwd())) {
      if (entry.key) keepKeys.add(entry.key);
      keepTrees.add(entry.output);
    }
    const report = await collectRemoteGarbage(remote.value, { keepKeys, keepTrees, graceMs, dryRun: flags.dryRun });
    if (flags.json) printJson({ remote: flags.remote, dryRun: flags.dryRun, ...report });
    else process.stdout.write(summary(flags.remote, flags.dryRun, report));
    return EXIT.ok;
  } finally {
    remote.value.close();
    session.close();
  }
}

function summary(url: string, dryRun: boolean, r: RemoteGcReport): string {
  const verb = dryRun ? 'would remove' : 'removed';
  const bytes = r.records.bytes + r.manifests.bytes + r.blobs.bytes;
  return (
    `tailor gc: ${url}: ${verb} ${r.records.removed} record(s), ${r.manifests.removed} manifest(s), ${r.blobs.removed} blob(s), ${formatBytes(bytes)}` +
    `; kept ${r.records.kept} record(s), ${r.manifests.kept} manifest(s), ${r.blobs.kept} blob(s)` +
    (r.incomplete > 0 ? `; cleared ${r.incomplete} interrupted upload(s)` : '') +
    '\n'
  );
}
