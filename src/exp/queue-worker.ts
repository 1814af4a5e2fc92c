/**
 * The queue worker (`tailor exp queue --run`): takes queued experiments one after another, oldest
 * first, and runs each through the run use case (handed in as `runExperiment`), re-reading the
 * queue after each one — entries added meanwhile are picked up. With `follow` it keeps polling
 * when the queue is empty, until stopped.
 *
 * Stopping (the signal: Ctrl-C or SIGTERM, turned into it by the CLI): the running experiment is
 * interrupted by the same abort (it leaves the cache consistent, as any interrupted run does),
 * its entry goes back to `queued`, the worker ends.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { hostName, isPidAlive } from '../cache/process-info.js';
import { MAX_ATTEMPTS, type ExperimentQueue, type QueueEntry } from './queue-db.js';

/** How one experiment ended. */
export interface ExperimentEnd {
  state: 'done' | 'failed' | 'interrupted';
  /** The exit code `tailor exp run` would have given. */
  exitCode: number;
  /** Why it failed, in a line. */
  message?: string;
}

export interface WorkerOptions {
  /** Run one entry to its end; `signal` is the worker's stop signal. */
  runExperiment(entry: QueueEntry, signal: AbortSignal): Promise<ExperimentEnd>;
  /** Keep waiting for new entries when the queue is empty. */
  follow: boolean;
  pollMs?: number;
  signal: AbortSignal;
  log(line: string): void;
}

export interface WorkerSummary {
  done: number;
  failed: number;
  interrupted: boolean;
}

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
    const end = await opts
      .runExperiment(entry, opts.signal)
      .catch((e: unknown): ExperimentEnd => ({ state: 'failed', exitCode: 1, message: String(e) }));
    if (end.state === 'done') {
      queue.finish(entry.id, 'done', 0, null);
      summary.done++;
      opts.log(`queue: ${entry.id} ${entry.name} done`);
    } else if (end.state === 'interrupted' || opts.signal.aborted) {
      queue.requeue(entry.id, 'interrupted; queued again');
      summary.interrupted = true;
      opts.log(`queue: ${entry.id} ${entry.name} interrupted; it stays queued`);
      break;
    } else {
      queue.finish(entry.id, 'failed', end.exitCode, end.message ?? `exit code ${end.exitCode}`);
      summary.failed++;
      opts.log(`queue: ${entry.id} ${entry.name} failed: ${end.message ?? `exit code ${end.exitCode}`}`);
    }
  }
  summary.interrupted ||= opts.signal.aborted;
  return summary;
}
