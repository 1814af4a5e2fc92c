/**
 * `tailor gc`: remove cache objects that nothing references. Kept: the latest output of every
 * stage of every pipeline this cache has run, every output named in a lock file under
 * `pipelines/`, and the outputs of the most recent runs (--keep-runs, default 20).
 */
import { parseArgs } from 'node:util';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT, UsageError, openSession } from '../common.js';
import { collectGarbage } from '../../cache/gc.js';
import { acquireRunLock } from '../../cache/run-lock.js';
import { readLockFile } from '../../run/lock-file.js';

export async function gcCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'dry-run': { type: 'boolean' },
      'keep-runs': { type: 'string', default: '20' },
      cache: { type: 'string' },
      json: { type: 'boolean' },
      remote: { type: 'string' },
      grace: { type: 'string' },
    },
  });
  const keepRuns = Number(values['keep-runs']);
  if (!Number.isInteger(keepRuns) || keepRuns < 0)
    throw new UsageError(`--keep-runs expects a whole number, got "${values['keep-runs']}"`);
  if (values.remote !== undefined) {
    const { gcRemoteCommand } = await import('./gc-remote.js');
    const { remote, grace, cache } = values;
    return gcRemoteCommand({
      remote,
      grace,
      cache,
      keepRuns,
      dryRun: values['dry-run'] ?? false,
      json: values.json ?? false,
    });
  }
  const session = await openSession(values.cache);
  const lock = await acquireRunLock(session.cacheDir, { waitSeconds: 0 });
  if (!lock.ok) {
    process.stderr.write(
      `tailor gc: the cache is in use by pid ${lock.error.pid} on ${lock.error.host}; try again when it is done\n`,
    );
    session.close();
    return EXIT.locked;
  }
  try {
    const keep = new Set([...session.index.latestTreeHashes(), ...lockFileOutputs(join(process.cwd(), 'pipelines'))]);
    const result = await collectGarbage(session.index, session.store, keep, {
      dryRun: values['dry-run'] ?? false,
      keepRecentRuns: keepRuns,
    });
    if (values.json) process.stdout.write(JSON.stringify(result) + '\n');
    else {
      const verb = values['dry-run'] ? 'would remove' : 'removed';
      process.stdout.write(
        `tailor gc: ${verb} ${result.removedObjects} object(s), ${(result.freedBytes / 1e6).toFixed(1)} MB, ${result.removedRecords} record(s); kept ${keep.size} referenced output(s)\n`,
      );
    }
    return EXIT.ok;
  } finally {
    lock.value.release();
    session.close();
  }
}

function lockFileOutputs(dir: string): string[] {
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.lock.json'));
  } catch {
    return [];
  }
  return files.flatMap((f) => Object.values(readLockFile(join(dir, f))?.stages ?? {}).map((e) => e.output));
}
