/**
 * `tailor pull [PIPELINE] [--stage NAME]... [--remote URL]`: download each stage's output for its
 * current key (computed locally, upstream first) into the local cache, verified before it is
 * registered. Holds the cache's run lock, like `run`, so gc cannot collect what it is restoring.
 */
import { EXIT, printHelp } from '../common.js';
import { SPECS } from '../command-specs.js';
import { parseCommand } from '../options.js';
import { openTransferTarget, runTransfer } from '../remote-options.js';
import { parseCount } from '../run-reporting.js';
import { acquireRunLock } from '../../cache/run-lock.js';
import { pullPipeline } from '../../remote/pipeline-transfer.js';

export async function pullCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand(SPECS.pull, argv);
  if (parsed.help) return printHelp(SPECS.pull);
  const { values } = parsed;
  const target = await openTransferTarget(values, parsed.positionals);
  if (!target) return EXIT.usage;
  const { url, pipeline, selected, session } = target;
  const lock = await acquireRunLock(session.cacheDir, { waitSeconds: parseCount(values.wait, '--wait', 0) });
  if (!lock.ok) {
    process.stderr.write(
      `tailor pull: the cache ${session.cacheDir} is in use: ${lock.error.message}\n  wait for it with --wait SECONDS\n`,
    );
    session.close();
    return EXIT.locked;
  }
  try {
    return await runTransfer('pull', url, session, values, async (cache) => {
      await session.store.cleanupTemp();
      return pullPipeline(session, cache, pipeline, selected);
    });
  } finally {
    lock.value.release();
    session.close();
  }
}
