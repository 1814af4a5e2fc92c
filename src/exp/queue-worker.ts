/**
 * The queue worker (`tailor exp queue --run`): takes queued experiments one after another, oldest
 * first, and runs each as its own `tailor exp run` process (so one experiment that crashes takes
 * nothing else down), re-reading the queue after each one — entries added meanwhile are picked up.
 * With `follow` it keeps polling when the queue is empty, until stopped.
 *
 * Stopping (Ctrl-C / SIGTERM / the signal): the running experiment is interrupted (it leaves the
 * cache consistent, as any interrupted run does), its entry goes back to `queued`, the worker ends.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { hostName, isPidAlive } from '../cache/process-info.js';
import { TAILOR_ROOT } from '../paths.js';
import { MAX_ATTEMPTS, type ExperimentQueue, type QueueEntry } from './queue-db.js';

export interface WorkerOptions {
  cacheDir: string;
  /** Stage parallelism of each experiment unless its entry says otherwise. */
  jobs: number;
  /** Keep waiting for new entries when the queue is empty. */
  follow: boolean;
  pollMs?: number;
  /** How long each experiment waits for the cache lock (another run in progress). */
  lockWaitSeconds?: number;
  /** Aborted to stop; its reason 'SIGINT' means a terminal Ctrl-C that the experiment got too. */
  signal: AbortSignal;
  log(line: string): void;
}

export interface WorkerSummary {
  done: number;
  failed: number;
  interrupted: boolean;
}

const EXIT_INTERRUPTED = 130;

export async function drainQueue(queue: ExperimentQueue, opts: WorkerOptions): Promise<WorkerSummary> {
  const host = hostName();
  const summary: WorkerSummary = { done: 0, failed: 0, interrupted: false };
  for (const e of queue.recoverDead(host, isPidAlive)) {
    opts.log(
      `queue: entry ${e.id} (${e.name}) was left running by a dead worker: ${e.attempts >= MAX_ATTEMPTS ? 'marked failed' : 'queued again'}`,
    );
  }
  while (!opts.signal.aborted) {
    const entry = queue.claim(process.pid, host);
    if (!entry) {
      if (!opts.follow) break;
      await sleep(opts.pollMs ?? 1000, undefined, { signal: opts.signal }).catch(() => undefined);
      continue;
    }
    opts.log(
      `queue: running ${entry.id} ${entry.name}${entry.sets.length ? ` (${entry.sets.map((s) => `--set ${s}`).join(' ')})` : ''}`,
    );
    const code = await runEntry(queue, entry, opts);
    if (code === 0) {
      queue.finish(entry.id, 'done', 0, null);
      summary.done++;
      opts.log(`queue: ${entry.id} ${entry.name} done`);
    } else if (opts.signal.aborted || code === EXIT_INTERRUPTED) {
      queue.requeue(entry.id, 'interrupted; queued again');
      summary.interrupted = true;
      opts.log(`queue: ${entry.id} ${entry.name} interrupted; it stays queued`);
      break;
    } else {
      queue.finish(entry.id, 'failed', code, `tailor exp run exited with code ${code}`);
      summary.failed++;
      opts.log(`queue: ${entry.id} ${entry.name} failed (exit code ${code})`);
    }
  }
  summary.interrupted ||= opts.signal.aborted;
  return summary;
}

/** Run one entry as a child `tailor exp run`; resolves with its exit code (signals count as 130). */
function runEntry(queue: ExperimentQueue, entry: QueueEntry, opts: WorkerOptions): Promise<number> {
  const args = [
    join(TAILOR_ROOT, 'bin', 'tailor'),
    'exp',
    'run',
    entry.pipeline,
    '--name',
    entry.name,
    ...entry.sets.flatMap((s) => ['--set', s]),
    '--jobs',
    String(entry.jobs ?? opts.jobs),
    '--cache',
    opts.cacheDir,
    '--wait',
    String(opts.lockWaitSeconds ?? 24 * 3600),
  ];
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, args, { cwd: entry.workdir, stdio: ['ignore', 'inherit', 'inherit'] });
    if (child.pid !== undefined) queue.setChild(entry.id, child.pid);
    // Ctrl-C in a terminal reaches the child too (same process group): sending it a second one
    // would make it stop without cleaning up. Anything else (SIGTERM, an abort from code) reached
    // only us, so pass it on as SIGTERM, which tailor treats like a first Ctrl-C.
    const stop = () => {
      if (opts.signal.reason !== 'SIGINT') child.kill('SIGTERM');
    };
    opts.signal.addEventListener('abort', stop, { once: true });
    child.on('error', (err) => {
      opts.log(`queue: cannot start tailor for ${entry.name}: ${err.message}`);
      opts.signal.removeEventListener('abort', stop);
      resolveRun(1);
    });
    child.on('close', (code, sig) => {
      opts.signal.removeEventListener('abort', stop);
      resolveRun(code ?? (sig ? EXIT_INTERRUPTED : 1));
    });
  });
}
