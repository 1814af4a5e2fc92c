/**
 * Committed outputs are read-only: files lose their write bits (0444, or 0555 when executable),
 * folders too (0555), so a stage that opens an upstream file for writing gets EACCES instead of
 * changing a cached object under its key. Root ignores permission bits, which is why the scheduler
 * also checks inputs after every stage (input-guard.ts). A file with more than one hard link keeps
 * its mode: the other link is someone else's file (a stage's state store, or a workspace file a
 * stage linked in), whose mode tailor must not change. tailor itself restores write permission on
 * folders before it deletes an object (removeTree).
 */
import { chmodSync, lstatSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';

const WRITE_BITS = 0o222;

/** Make every file and folder under `dir` read-only; `dir` itself too unless `keepTop`. */
export function sealTree(dir: string, opts: { keepTop?: boolean } = {}): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) sealTree(path);
    else if (e.isFile()) {
      const st = lstatSync(path);
      if (st.nlink === 1 && (st.mode & WRITE_BITS) !== 0) chmodSync(path, st.mode & 0o7555);
    }
  }
  if (!opts.keepTop) sealDir(dir);
}

/** Drop the write bits of one folder. */
export function sealDir(dir: string): void {
  const st = lstatSync(dir);
  if ((st.mode & WRITE_BITS) !== 0) chmodSync(dir, st.mode & 0o7555);
}

/** Give the owner write (and search) permission on `dir` and every folder below it. */
export function unsealTree(dir: string): void {
  let st;
  try {
    st = lstatSync(dir);
  } catch {
    return;
  }
  if (!st.isDirectory()) return;
  if ((st.mode & 0o700) !== 0o700) chmodSync(dir, st.mode | 0o700);
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) unsealTree(join(dir, e.name));
}

/** Delete a folder tree that may hold read-only folders (a sealed object, or a copy of one in tmp/). */
export async function removeTree(dir: string): Promise<void> {
  try {
    unsealTree(dir);
  } catch {
    // Whatever cannot be unsealed, rm reports below.
  }
  await rm(dir, { recursive: true, force: true });
}
