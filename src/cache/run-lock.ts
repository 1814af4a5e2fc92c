/**
 * The run lock of a cache folder (`lock.json`): one `tailor run` (or `gc`) at a time.
 *
 * The lock file records pid, host, argv, start time and a heartbeat refreshed every ~2 s. It is
 * created exclusively: the content is written to a private file and link(2)ed to `lock.json`,
 * which fails with EEXIST exactly like O_EXCL but never lets a reader see a half-written lock.
 * A lock whose pid is dead on this host, or whose heartbeat is older than 30 s, is taken over:
 * re-read it to be sure it is still the same stale lock, write ours beside it and rename over it,
 * let racing takers finish, then re-read to confirm ours is the one left. The heartbeat also
 * checks ownership each beat, so a holder that lost its lock (e.g. it was stopped for longer
 * than the stale limit) finds out and is told through `onLost`.
 *
 * States of the acquiring side:
 *
 *     try create ──ok──> HELD ──release()/exit──> released
 *        │ EEXIST                ▲
 *        v                       │ confirmed ours
 *     read holder ──stale──> take over ──lost race──┐
 *        │ live                                     │
 *        v                                          v
 *     wait (onWait once per holder), poll ───> try create … until waitSeconds, then Err(holder)
 */
import { linkSync, mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { err, ok, type Result } from '../result.js';
import { hostName, isPidAlive } from './process-info.js';

/** What `lock.json` holds. */
export interface LockInfo {
  pid: number;
  host: string;
  argv: string[];
  /** Epoch milliseconds. */
  startedAt: number;
  heartbeatAt: number;
  /** Random id of this acquisition (tells two holders with the same pid apart). */
  token: string;
}

/** Who holds the lock, with a sentence to print. */
export interface LockHolder extends Omit<LockInfo, 'token'> {
  /** e.g. `held by pid 123 on host h since 2026-01-01T10:00:00.000Z (4 min ago), last heartbeat 2 s ago: tailor run` */
  message: string;
}

/** A held lock. */
export interface RunLock {
  readonly path: string;
  readonly info: LockInfo;
  /** True once another process has taken the lock over (see `onLost`). */
  readonly lost: boolean;
  /**
   * Read the lock file now and tell whether it is still ours; a lock found lost fires `onLost`.
   * Called right before each commit, so a holder that was paused past the stale limit (its lock
   * taken over meanwhile) finds out before it writes, not at its next heartbeat.
   */
  stillHeld(): boolean;
  /** Stop the heartbeat and delete the lock if it is still ours. Idempotent; also runs on exit. */
  release(): void;
}

export interface AcquireOptions {
  /** How long to wait for a live holder (default 0: fail at once with the holder). */
  waitSeconds?: number;
  /** Called when waiting starts, and again whenever the holder changes. */
  onWait?: (holder: LockHolder) => void;
  /** Called (once) if another process takes the lock over while we hold it. */
  onLost?: (holder: LockHolder | undefined) => void;
  /** Recorded in the lock (default: this process's argv after the node binary). */
  argv?: string[];
  /** Heartbeat period (default 2000 ms). */
  heartbeatMs?: number;
  /** A heartbeat older than this is stale (default 30000 ms). */
  staleMs?: number;
  /** Poll period while waiting (default 250 ms). */
  pollMs?: number;
}

export const LOCK_FILE = 'lock.json';
const SETTLE_MS = 200;

interface Observed {
  raw: string;
  info: LockInfo | undefined;
  mtimeMs: number;
}

/** Acquire the run lock of `cacheDir`: Ok(lock), or Err(holder) when still held after waiting. */
export async function acquireRunLock(cacheDir: string, opts: AcquireOptions = {}): Promise<Result<RunLock, LockHolder>> {
  mkdirSync(cacheDir, { recursive: true });
  const path = join(cacheDir, LOCK_FILE);
  const staleMs = opts.staleMs ?? staleMsFromEnv() ?? 30_000;
  const pollMs = opts.pollMs ?? 250;
  const deadline = Date.now() + Math.max(0, opts.waitSeconds ?? 0) * 1000;
  const argv = opts.argv ?? process.argv.slice(1);
  let notified: string | undefined;
  for (;;) {
    const mine = newInfo(argv);
    if (tryCreate(path, mine)) return ok(hold(path, mine, opts, staleMs));
    const seen = observe(path);
    if (!seen) continue; // released between our attempt and the read: try again at once
    if (staleReason(seen, staleMs) !== undefined) {
      if (await takeOver(path, seen, mine)) return ok(hold(path, mine, opts, staleMs));
      continue;
    }
    const holder = describeHolder(seen);
    if (Date.now() >= deadline) return err(holder);
    // Heartbeats change the file's text but not its token: report only a new holder.
    const id = seen.info?.token ?? seen.raw;
    if (notified !== id) {
      opts.onWait?.(holder);
      notified = id;
    }
    await sleep(Math.max(1, Math.min(pollMs, deadline - Date.now())));
  }
}

/**
 * $TAILOR_LOCK_STALE_SECONDS: how long a holder may stay silent before its lock is taken over
 * (default 30; raise it where processes may be paused for long, lower it in tests).
 */
function staleMsFromEnv(): number | undefined {
  const v = Number(process.env.TAILOR_LOCK_STALE_SECONDS);
  return Number.isFinite(v) && v > 0 ? v * 1000 : undefined;
}

/** Read who holds the lock of `cacheDir` now (undefined if nobody). */
export function readRunLock(cacheDir: string): LockHolder | undefined {
  const seen = observe(join(cacheDir, LOCK_FILE));
  return seen && describeHolder(seen);
}

/** Why a lock is stale, or undefined if its holder looks alive. */
function staleReason(seen: Observed, staleMs: number): string | undefined {
  const info = seen.info;
  if (info && info.host === hostName() && !isPidAlive(info.pid)) return `pid ${info.pid} is dead`;
  // The file's mtime guards against a holder whose clock runs behind ours.
  const last = Math.max(info?.heartbeatAt ?? 0, seen.mtimeMs);
  if (Date.now() - last > staleMs) return `no heartbeat for ${Math.round((Date.now() - last) / 1000)} s`;
  return undefined;
}

function newInfo(argv: string[]): LockInfo {
  const now = Date.now();
  return { pid: process.pid, host: hostName(), argv, startedAt: now, heartbeatAt: now, token: randomBytes(8).toString('hex') };
}

function tryCreate(path: string, info: LockInfo): boolean {
  const tmp = `${path}.${info.token}.new`;
  writeFileSync(tmp, JSON.stringify(info, null, 2) + '\n');
  try {
    linkSync(tmp, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    unlinkSync(tmp);
  }
}

/** Replace a stale lock with ours; true if ours is the one left after racing takers settle. */
async function takeOver(path: string, stale: Observed, mine: LockInfo): Promise<boolean> {
  const again = observe(path);
  if (!again || again.raw !== stale.raw) return false; // it changed: judge it afresh
  replace(path, mine);
  await sleep(SETTLE_MS);
  return observe(path)?.info?.token === mine.token;
}

/** Atomically replace the lock file's content (write beside, rename over). */
function replace(path: string, info: LockInfo): void {
  const tmp = `${path}.${info.token}.new`;
  writeFileSync(tmp, JSON.stringify(info, null, 2) + '\n');
  renameSync(tmp, path);
}

function observe(path: string): Observed | undefined {
  let raw: string;
  let mtimeMs: number;
  try {
    raw = readFileSync(path, 'utf8');
    mtimeMs = statSync(path).mtimeMs;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  return { raw, info: parseInfo(raw), mtimeMs };
}

function parseInfo(raw: string): LockInfo | undefined {
  try {
    const v = JSON.parse(raw) as Partial<LockInfo>;
    if (typeof v.pid !== 'number' || typeof v.host !== 'string' || typeof v.token !== 'string') return undefined;
    return {
      pid: v.pid,
      host: v.host,
      argv: Array.isArray(v.argv) ? v.argv.map(String) : [],
      startedAt: Number(v.startedAt) || 0,
      heartbeatAt: Number(v.heartbeatAt) || 0,
      token: v.token,
    };
  } catch {
    return undefined;
  }
}

function describeHolder(seen: Observed): LockHolder {
  const info = seen.info;
  const now = Date.now();
  if (!info) {
    return {
      pid: 0,
      host: '',
      argv: [],
      startedAt: seen.mtimeMs,
      heartbeatAt: seen.mtimeMs,
      message: `held by an unreadable lock file (written ${ago(now - seen.mtimeMs)} ago)`,
    };
  }
  const cmd = info.argv.length > 0 ? `: ${info.argv.join(' ')}` : '';
  return {
    pid: info.pid,
    host: info.host,
    argv: info.argv,
    startedAt: info.startedAt,
    heartbeatAt: info.heartbeatAt,
    message:
      `held by pid ${info.pid} on host ${info.host} since ${new Date(info.startedAt).toISOString()} ` +
      `(${ago(now - info.startedAt)} ago), last heartbeat ${ago(now - info.heartbeatAt)} ago${cmd}`,
  };
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}

function hold(path: string, info: LockInfo, opts: AcquireOptions, staleMs: number): RunLock {
  let released = false;
  let lost = false;
  /** False (and onLost, once) when lock.json no longer holds our token. */
  const ours = (): boolean => {
    if (lost) return false;
    if (released) return true;
    const seen = observe(path);
    if (seen?.info?.token === info.token) return true;
    lost = true;
    clearInterval(timer);
    opts.onLost?.(seen && describeHolder(seen));
    return false;
  };
  const beat = () => {
    try {
      if (released || !ours()) return;
      info.heartbeatAt = Date.now();
      replace(path, info);
    } catch {
      // a full disk or a vanished cache folder: try again at the next beat (a timer must not throw)
    }
  };
  const heartbeatMs = Math.min(opts.heartbeatMs ?? 2000, Math.floor(staleMs / 3));
  const timer = setInterval(beat, heartbeatMs);
  timer.unref();
  const release = () => {
    if (released) return;
    released = true;
    clearInterval(timer);
    process.removeListener('exit', release);
    if (observe(path)?.info?.token === info.token) {
      try {
        unlinkSync(path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
  };
  process.on('exit', release);
  return {
    path,
    info,
    get lost() {
      return lost;
    },
    stillHeld: ours,
    release,
  };
}
