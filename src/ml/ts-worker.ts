/**
 * Start a worker thread on a module of this package whether it runs compiled (.js) or from its
 * TypeScript sources. Stage modules are loaded through tsx's `tsImport`, which does not register a
 * loader for new threads, so a .ts worker is bootstrapped by a tiny script that imports it the same way.
 */
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';

const BOOT = `
const { workerData } = require('node:worker_threads');
(async () => {
  const boot = workerData.__boot;
  if (boot.tsx) {
    const api = await import(boot.tsx);
    await api.tsImport(boot.entry, boot.entry);
  } else {
    await import(boot.entry);
  }
})().catch((e) => { setImmediate(() => { throw e; }); });
`;

/** Start `entry` (a file URL of a .ts or .js module) as a worker with `data` as its workerData. */
export function startWorker(entry: URL, data: Record<string, unknown>): Worker {
  const isTs = /\.[cm]?ts$/.test(fileURLToPath(entry));
  const boot = { entry: entry.href, tsx: isTs ? import.meta.resolve('tsx/esm/api') : null };
  // execArgv: [] keeps a parent's `--test` or inspector flags out of the worker.
  return new Worker(BOOT, {
    eval: true,
    workerData: { ...data, __boot: boot },
    execArgv: [],
    stdout: false,
    stderr: false,
  });
}
