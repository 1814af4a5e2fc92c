/**
 * The reaper: a small process a tailor process starts on its first stage, so that stages die
 * with tailor however tailor ends, SIGKILL included (a killed process runs no handler, and Linux
 * has no portable "kill my children when I die" for a whole tree). It reads lines on stdin:
 * `+PGID` when a stage's process group starts, `-PGID` when it is done. When stdin closes
 * (tailor exited or was killed), it SIGKILLs every group still registered and every process
 * still carrying the run's tag (argv[2], see process-tree.ts), then exits.
 *
 * It runs in its own process group and ignores the terminal's signals, so the Ctrl-C that
 * reaches tailor does not take it down before tailor's stages are stopped.
 */
import { createInterface } from 'node:readline';
import { signalGroup, taggedPids } from './process-tree.js';

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => undefined);

const runTag = process.argv[2] ?? '';
const groups = new Set<number>();
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on('line', (line) => {
  const pgid = Number(line.slice(1));
  if (!Number.isInteger(pgid) || pgid <= 1) return;
  if (line.startsWith('+')) groups.add(pgid);
  else if (line.startsWith('-')) groups.delete(pgid);
});
lines.on('close', () => {
  for (const pgid of groups) signalGroup(pgid, 'SIGKILL');
  if (runTag) {
    for (const pid of taggedPids(`${runTag}.`, { prefix: true })) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  process.exit(0);
});
