/**
 * `tailor gc --remote URL [--dry-run] [--grace DURATION]`: remove from a remote cache what no lock
 * file under `pipelines/` and no recent run of the local cache refers to (src/remote/remote-gc.ts
 * says in what order, and how a concurrent push is kept safe). Only an explicit --remote collects
 * a remote: $TAILOR_REMOTE alone never makes a plain `tailor gc` delete shared objects.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT, UsageError, openSession, printJson } from '../common.js';
import { formatBytes } from '../transfer-printer.js';
import { LocalCache } from '../../remote/local-cache.js';
import { openRemote } from '../../remote/open-remote.js';
import { collectRemoteGarbage, type RemoteGcReport } from '../../remote/remote-gc.js';
import { readLockFile } from '../../run/lock-file.js';

export interface RemoteGcFlags {
  remote: string;
  grace?: string;
  dryRun: boolean;
  keepRuns: number;
  cache?: string;
  json: boolean;
}

export async function gcRemoteCommand(flags: RemoteGcFlags): Promise<number> {
  const graceMs = parseDuration(flags.grace ?? '1h');
  const remote = await openRemote(flags.remote);
  if (!remote.ok) throw new UsageError(remote.error);
  const session = await openSession(flags.cache);
  try {
    const keepKeys = new Set<string>();
    const keepTrees = new LocalCache(session).treesInUse(flags.keepRuns);
    for (const entry of lockFileEntries(join(process.cwd(), 'pipelines'))) {
      keepKeys.add(entry.key);
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

/** `90s`, `30m`, `1h`, `7d`, or a bare number of seconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h|d)?$/.exec(text.trim());
  if (!m) throw new UsageError(`--grace expects a duration such as 90s, 30m, 1h or 7d, got "${text}"`);
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit * 1000;
}

function lockFileEntries(dir: string): Array<{ key: string; output: string }> {
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.lock.json'));
  } catch {
    return [];
  }
  return files.flatMap((f) => Object.values(readLockFile(join(dir, f))?.stages ?? {}));
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
