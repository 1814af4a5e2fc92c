/**
 * Helpers of the hostile-case tests: what "a message, never a stack trace" means, finding the
 * processes a stage left, and the privileged tricks some cases need (chattr +i, a small tmpfs),
 * each with the reason a test skips when the machine does not allow it.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Output of a failing tailor: messages only, never a JS stack or an "internal error". */
export function assertNoStack(text: string, what = 'output'): void {
  assert.doesNotMatch(text, /^\s+at .+[:(].*\d+:\d+\)?$/m, `${what} carries a stack trace:\n${text}`);
  assert.doesNotMatch(text, /internal error/, `${what} reports an internal error:\n${text}`);
}

/** Pids of live processes whose command line is exactly `command` (zombies excluded). */
export function processesMatching(command: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (/^\d+ \(.*\) Z /.test(stat)) continue;
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      if (cmd === command) out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}

/** Wait until no process runs exactly `command` (true), or give up after `ms` (false). */
export async function noneLeft(command: string, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (processesMatching(command).length > 0) {
    if (Date.now() > end) return false;
    await sleep(50);
  }
  return true;
}

/** Why `chattr +i` cannot be used here (undefined when it can: root on a file system that has it). */
export function noImmutableFiles(): string | undefined {
  if (process.getuid?.() !== 0) return 'chattr +i needs root';
  const dir = mkdtempSync(join(tmpdir(), 'tailor-chattr-'));
  const file = join(dir, 'f');
  writeFileSync(file, 'x');
  const r = spawnSync('chattr', ['+i', file]);
  spawnSync('chattr', ['-i', file]);
  spawnSync('rm', ['-rf', dir]);
  return r.status === 0
    ? undefined
    : `chattr +i is not available here: ${r.stderr?.toString().trim() || r.error?.message}`;
}

export function setImmutable(path: string, on: boolean): void {
  execFileSync('chattr', [on ? '+i' : '-i', path]);
}

/** A tmpfs of `bytes` mounted on a fresh folder, or the reason there cannot be one. */
export function mountTmpfs(bytes: number): { dir: string; unmount(): void } | { skip: string } {
  if (process.getuid?.() !== 0) return { skip: 'mounting a small tmpfs needs root' };
  const dir = mkdtempSync(join(tmpdir(), 'tailor-full-'));
  mkdirSync(dir, { recursive: true });
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir]);
  if (r.status !== 0) {
    rmdirSync(dir);
    return { skip: `cannot mount a tmpfs here: ${r.stderr?.toString().trim() || r.error?.message}` };
  }
  return {
    dir,
    unmount: () => {
      spawnSync('umount', ['-l', dir]);
      rmdirSync(dir);
    },
  };
}
