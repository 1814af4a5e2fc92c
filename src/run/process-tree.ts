/**
 * Stopping everything a stage started. A stage's process (the shell of a cmd stage, the Node
 * child of a module stage) leads its own process group, so a signal to the group reaches every
 * child that stayed in it. A child that left the group (`setsid`, a daemon) is found by the
 * environment variable TAILOR_PROCESS_TAG that every stage process inherits (what Jenkins does
 * with BUILD_ID): /proc/PID/environ of each candidate process is read and matched.
 *
 * Scanning all of /proc costs about 2 ms; a stage of a few milliseconds only has to look at
 * processes created since it started, which /proc/loadavg's last-pid field bounds (pids wrap at
 * pid_max, so the range is cyclic).
 */
import { readdirSync, readFileSync } from 'node:fs';

/** The environment variable carrying a stage's process tag. */
export const TAG_VAR = 'TAILOR_PROCESS_TAG';

/** Send `sig` to a process group; false when the group is gone. */
export function signalGroup(pgid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, sig);
    return true;
  } catch {
    return false;
  }
}

/** The most recently allocated pid on this machine (Linux), or undefined elsewhere. */
export function lastPid(): number | undefined {
  try {
    const n = Number(readFileSync('/proc/loadavg', 'utf8').trim().split(/\s+/).pop());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Pids allocated after `after` up to `upTo` (cyclic, pids wrap), or any pid when no range. */
export interface PidRange {
  after: number;
  upTo: number;
}

function inRange(pid: number, range: PidRange | undefined): boolean {
  if (!range) return true;
  return range.upTo >= range.after ? pid > range.after && pid <= range.upTo : pid > range.after || pid <= range.upTo;
}

/**
 * Pids of live processes whose environment has `TAILOR_PROCESS_TAG=<tag>` (or, with `prefix`,
 * a tag starting with `tag`), optionally only among pids in `range`. Never this process.
 */
export function taggedPids(tag: string, opts: { prefix?: boolean; range?: PidRange } = {}): number[] {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return []; // no /proc: only the process group is stopped
  }
  const needle = Buffer.from(`${TAG_VAR}=${tag}`);
  const out: number[] = [];
  for (const name of names) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid || !inRange(pid, opts.range)) continue;
    let env: Buffer;
    try {
      env = readFileSync(`/proc/${pid}/environ`);
    } catch {
      continue; // gone, or not ours to read
    }
    for (let at = env.indexOf(needle); at >= 0; at = env.indexOf(needle, at + 1)) {
      const startsVar = at === 0 || env[at - 1] === 0;
      const end = at + needle.length;
      if (startsVar && (opts.prefix || end === env.length || env[end] === 0)) {
        out.push(pid);
        break;
      }
    }
  }
  return out;
}

/** SIGKILL a stage's process group and every process still carrying its tag. */
export function killStageTree(pgid: number | undefined, tag: string, range?: PidRange): void {
  if (pgid !== undefined) signalGroup(pgid, 'SIGKILL');
  for (const pid of taggedPids(tag, { range })) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
