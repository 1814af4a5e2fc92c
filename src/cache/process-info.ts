/** Who owns a lock or a temp folder: host names and process liveness. */
import { hostname } from 'node:os';

/** This machine's host name as recorded in locks and run history. */
export function hostName(): string {
  return hostname();
}

/**
 * The host name reduced to `[A-Za-z0-9._]` (at most 64 characters), for use inside file names
 * where `-` separates fields.
 */
export function hostTag(host: string = hostName()): string {
  return host.replace(/[^A-Za-z0-9._]/g, '_').slice(0, 64) || 'host';
}

/** True if a process with this pid exists on this host (EPERM: it exists but is not ours). */
export function isPidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
