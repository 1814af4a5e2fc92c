/**
 * `tailor gc`: remove cache objects that nothing references. Kept: the latest output of every
 * stage of every pipeline this cache has run, every output named in a lock file (beside each
 * pipeline the cache knows, or anywhere under `pipelines/`), and the outputs of the most recent
 * runs (--keep-runs, default 20).
 */
import { EXIT, UsageError, openSession, printHelp } from '../common.js';
import { SPECS } from '../command-specs.js';
import { parseCommand } from '../options.js';
import { collectGarbage } from '../../cache/gc.js';
import { acquireRunLock } from '../../cache/run-lock.js';
import { lockFileOutputs } from '../../cache/gc-roots.js';

export async function gcCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand(SPECS.gc, argv);
  if (parsed.help) return printHelp(SPECS.gc);
  const { values } = parsed;
  if (parsed.positionals.length > 0) throw new UsageError(`unexpected argument "${parsed.positionals[0]}"`);
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
    // Lock files beside every pipeline the index knows, and anywhere under pipelines/.
    const keep = new Set([
      ...session.index.outputs.latestTreeHashes(),
      ...lockFileOutputs(session.index, process.cwd()),
    ]);
    const result = await collectGarbage(session.index, session.local, keep, {
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
