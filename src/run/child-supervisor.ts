/**
 * Watching over one stage process, from spawn to the moment nothing it started is left:
 *
 *   running ──exit──> reaping ──output drained──> ended
 *      │ abort, timeout      ▲
 *      v                     │ exit
 *   stopping: a polite stop (SIGTERM to the group, or the module child's abort message),
 *             then SIGKILL of the whole tree after the grace period
 *
 * Reaping SIGKILLs the process group and every process still carrying the stage's tag
 * (process-tree.ts): a stage ends when its process exits, so a backgrounded `sleep` or a daemon
 * it left cannot hold the run or write into an output after it was committed. The reaper
 * (process-reaper.ts) does the same if tailor itself dies first.
 */
import type { ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { killStageTree, lastPid, signalGroup, type PidRange } from './process-tree.js';
import { unwatchGroup, watchGroup } from './process-reaper.js';
import { forEachLine, type StageLog } from './stage-log.js';

/** Stages shorter than this look for leftovers only among pids allocated since they started. */
const SHORT_STAGE_MS = 1000;
/** How long output may keep flowing after the tree was killed (a pipe held by a zombie, say). */
const DRAIN_MS = 2000;

/** What every stage process is run with, whatever kind it is. */
export interface StageProcessRun {
  env: Record<string, string>;
  log: StageLog;
  signal: AbortSignal;
  timeoutSeconds?: number;
  /** Seconds between the polite stop and SIGKILL. */
  graceSeconds: number;
  onLine(line: string, stream: 'stdout' | 'stderr'): void;
}

export interface SuperviseOptions extends StageProcessRun {
  child: ChildProcess;
  tag: string;
  /** Ask the process to stop by itself. */
  politeStop(child: ChildProcess): void;
  /** Lines kept out of the log and the terminal (a library's load-time noise). */
  dropLine?(line: string, stream: 'stdout' | 'stderr'): boolean;
}

export interface ChildEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Why tailor stopped it, if it did. */
  stoppedFor?: 'interrupted' | 'timeout';
  /** Why the process could not be started. */
  spawnError?: Error;
}

export function supervise(opts: SuperviseOptions): Promise<ChildEnd> {
  const { child } = opts;
  const startedAt = Date.now();
  const pgid = child.pid;
  if (pgid !== undefined) watchGroup(pgid);
  let stoppedFor: ChildEnd['stoppedFor'];
  let killTimer: NodeJS.Timeout | undefined;
  let timeoutTimer: NodeJS.Timeout | undefined;

  for (const name of ['stdout', 'stderr'] as const) {
    const stream = child[name];
    if (stream)
      forEachLine(stream, (line) => {
        if (opts.dropLine?.(line, name)) return;
        opts.log.write(line);
        opts.onLine(line, name);
      });
  }

  const stop = (why: NonNullable<ChildEnd['stoppedFor']>): void => {
    if (stoppedFor || child.exitCode !== null || child.signalCode !== null) return;
    stoppedFor = why;
    opts.politeStop(child);
    killTimer = setTimeout(() => pgid !== undefined && signalGroup(pgid, 'SIGKILL'), opts.graceSeconds * 1000);
  };
  const onAbort = () => stop('interrupted');
  if (opts.signal.aborted) onAbort();
  else opts.signal.addEventListener('abort', onAbort, { once: true });
  if (opts.timeoutSeconds !== undefined)
    timeoutTimer = setTimeout(() => stop('timeout'), Math.min(opts.timeoutSeconds * 1000, 2 ** 31 - 1));

  return new Promise((resolveEnd) => {
    let settled = false;
    const finish = (end: ChildEnd): void => {
      if (settled) return;
      settled = true;
      clearTimeout(killTimer);
      clearTimeout(timeoutTimer);
      opts.signal.removeEventListener('abort', onAbort);
      resolveEnd(end);
    };
    child.once('error', (e) => {
      if (child.pid === undefined) finish({ code: null, signal: null, spawnError: e });
    });
    child.once('exit', (code, signal) => {
      const short = Date.now() - startedAt < SHORT_STAGE_MS;
      const upTo = short && pgid !== undefined ? lastPid() : undefined;
      const range: PidRange | undefined = upTo !== undefined && pgid !== undefined ? { after: pgid, upTo } : undefined;
      // No pid was handed out since the stage's own: it cannot have left a process behind.
      if (range && range.upTo === range.after) signalGroup(pgid!, 'SIGKILL');
      else killStageTree(pgid, opts.tag, range);
      if (pgid !== undefined) unwatchGroup(pgid);
      void drained([child.stdout, child.stderr]).then(() => finish({ code, signal, stoppedFor }));
    });
  });
}

/** Resolves when every stream has ended, or after DRAIN_MS (then they are destroyed). */
function drained(streams: Array<Readable | null>): Promise<void> {
  const open = streams.filter((s): s is Readable => s !== null && !s.readableEnded && !s.destroyed);
  if (open.length === 0) return Promise.resolve();
  return new Promise((done) => {
    let left = open.length;
    const timer = setTimeout(() => {
      for (const s of open) s.destroy();
      done();
    }, DRAIN_MS);
    for (const s of open)
      s.once('close', () => {
        if (--left === 0) {
          clearTimeout(timer);
          done();
        }
      });
  });
}
