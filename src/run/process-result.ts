/** How a stage process ended, in the one line a person reads after `✗ stage failed: `. */
import type { ChildEnd } from './child-supervisor.js';
import type { FailureReason } from './stage-executor.js';
import type { StageLog } from './stage-log.js';

export type ProcessResult = { ok: true } | { ok: false; reason: FailureReason; message: string };

/** `30 s`, `2 min 5 s`, `1 h 30 min`: a timeout as a person wrote it. */
export function formatTimeout(seconds: number): string {
  if (seconds < 120) return `${Number(seconds.toFixed(3))} s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)} min${seconds % 60 ? ` ${Math.round(seconds % 60)} s` : ''}`;
  return `${Math.floor(seconds / 3600)} h${seconds % 3600 ? ` ${Math.round((seconds % 3600) / 60)} min` : ''}`;
}

/** The result of a stage process from how it ended; `what` names it ("command", "stage process"). */
export function processResult(
  end: ChildEnd,
  what: string,
  opts: { timeoutSeconds?: number; failure?: string },
): ProcessResult {
  if (end.spawnError)
    return { ok: false, reason: 'failed', message: `could not start the ${what}: ${end.spawnError.message}` };
  if (end.stoppedFor === 'timeout')
    return { ok: false, reason: 'timeout', message: `timed out after ${formatTimeout(opts.timeoutSeconds ?? 0)}` };
  if (end.stoppedFor === 'interrupted') return { ok: false, reason: 'interrupted', message: 'interrupted' };
  if (end.code === 0) return { ok: true };
  if (opts.failure) return { ok: false, reason: 'failed', message: opts.failure };
  if (end.signal)
    return {
      ok: false,
      reason: 'failed',
      message: `${what} killed by ${end.signal}${end.signal === 'SIGKILL' ? ' (out of memory?)' : ''}`,
    };
  return { ok: false, reason: 'failed', message: `${what} exited with code ${end.code}` };
}

/** A log that could not be written fails the stage (a full disk is the usual cause). */
export function withLogError(result: ProcessResult, log: StageLog): ProcessResult {
  const e = log.error as NodeJS.ErrnoException | undefined;
  if (!e) return result;
  const full = e.code === 'ENOSPC' || e.code === 'EDQUOT';
  if (!result.ok)
    return full
      ? { ...result, message: `${result.message} (the disk is full: even its log could not be written)` }
      : result;
  return {
    ok: false,
    reason: 'failed',
    message: `${full ? 'disk full: ' : ''}cannot write the stage log ${log.path}: ${e.message}`,
  };
}
