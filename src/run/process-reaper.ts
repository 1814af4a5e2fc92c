/**
 * The engine's side of the reaper (reaper-child.ts): started once per tailor process, on the
 * first stage, and told about each stage's process group. Stage tags are made here too: one run
 * tag per tailor process, one stage tag per stage process (`<run tag>.<n>`).
 *
 * On a normal exit (including `process.exit` after a second Ctrl-C) the registered groups are
 * killed right here; the reaper covers the exits that run no code.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TAILOR_ROOT } from '../paths.js';
import { signalGroup } from './process-tree.js';

/** This process's run tag: every stage tag starts with it. */
export const RUN_TAG = `${process.pid}-${randomBytes(4).toString('hex')}`;

const fromSources = fileURLToPath(import.meta.url).endsWith('.ts');
const reaperScript = fromSources
  ? join(TAILOR_ROOT, 'src', 'run', 'reaper-child.ts')
  : join(TAILOR_ROOT, 'dist', 'src', 'run', 'reaper-child.js');

let reaper: ChildProcess | undefined;
let started = false;
let seq = 0;
const live = new Set<number>();

/** A fresh tag for one stage process. */
export function newStageTag(): string {
  seq++;
  return `${RUN_TAG}.${seq}`;
}

function ensureReaper(): void {
  if (started) return;
  started = true;
  process.on('exit', () => {
    for (const pgid of live) signalGroup(pgid, 'SIGKILL');
  });
  try {
    reaper = spawn(process.execPath, [...(fromSources ? ['--import', 'tsx'] : []), reaperScript, RUN_TAG], {
      stdio: ['pipe', 'ignore', 'ignore'],
      detached: true,
    });
  } catch {
    reaper = undefined; // no reaper: stages still stop with tailor except when it is SIGKILLed
    return;
  }
  reaper.on('error', () => (reaper = undefined));
  reaper.stdin?.on('error', () => (reaper = undefined));
  reaper.unref();
  // A pipe to a child is a socket: unref'd, it does not keep tailor alive either.
  (reaper.stdin as Socket | null)?.unref();
}

/** A stage's process group started: kill it if tailor dies before `unwatchGroup`. */
export function watchGroup(pgid: number): void {
  ensureReaper();
  live.add(pgid);
  reaper?.stdin?.write(`+${pgid}\n`);
}

/** The group is gone (its leader exited and the group was killed). */
export function unwatchGroup(pgid: number): void {
  live.delete(pgid);
  reaper?.stdin?.write(`-${pgid}\n`);
}
