/**
 * `export:` copies chosen files of a stage's output into the workspace, atomically (a temp file
 * beside the target, then rename), so a reader never sees half a file.
 *
 * It never follows a link out of the output (the source's real path must be inside the object's),
 * never writes through a link out of the working folder (the target folder's real path must be
 * inside the workdir's), copies only regular files, and leaves no temp file behind on failure.
 * Every failure is an ExportError whose message names the stage, the export and what is wrong.
 */
import { existsSync, lstatSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { chmod, copyFile, mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import type { StageSpec } from '../pipeline/types.js';
import { isInside } from '../cache/safe-path.js';

/** An export that cannot be done; the message is for the user. */
export class ExportError extends Error {
  override name = 'ExportError';
}

/** A few names of what is in `dir`, for "no such file" messages. */
function listing(dir: string): string {
  try {
    const names = readdirSync(dir).filter((n) => n !== 'metrics.json');
    return names.length === 0
      ? 'it is empty'
      : `it has ${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''}`;
  } catch {
    return 'it cannot be read';
  }
}

/** The deepest existing folder on the way to `path` (the folder itself if it exists). */
function existingAncestor(path: string): string {
  let p = path;
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  return p;
}

/** Check one export; returns the real source file. Throws ExportError. */
function checkSource(outDir: string, from: string, fail: (why: string) => never): string {
  const src = resolve(outDir, from);
  if (!isInside(outDir, src)) fail("the path leaves the stage's output folder");
  const st = lstatSync(src, { throwIfNoEntry: false });
  if (!st) fail(`the stage's output has no ${from} (${listing(dirname(src))})`);
  let real: string;
  try {
    real = realpathSync(src);
  } catch {
    fail(`${from} is a link to nothing`);
  }
  if (!isInside(realpathSync(outDir), real)) fail(`${from} is a link that leads out of the stage's output`);
  const target = statSync(real);
  if (target.isDirectory()) fail(`${from} is a folder; export copies files (name each file)`);
  if (!target.isFile()) fail(`${from} is not a regular file`);
  return real;
}

/** Copy each export of `spec` from `outDir` into `workdir`; returns the targets, relative to workdir. */
export async function exportOutputs(spec: StageSpec, outDir: string, workdir: string): Promise<string[]> {
  const written: string[] = [];
  for (const [from, to] of Object.entries(spec.export)) {
    const fail = (why: string): never => {
      throw new ExportError(`export ${from} -> ${to}: ${why}`);
    };
    const src = checkSource(outDir, from, fail);
    const dest = resolve(workdir, to);
    if (!isInside(workdir, dest) || dest === resolve(workdir)) fail('the target leaves the working folder');
    // A folder on the way that is a link must not take the copy out of the working folder.
    const ancestor = existingAncestor(dest);
    if (!isInside(realpathSync(workdir), realpathSync(ancestor)))
      fail(`${relative(workdir, ancestor) || '.'} leads out of the working folder (a link?)`);
    const isDir = statSync(ancestor).isDirectory();
    if (ancestor === dest && isDir) fail(`the target ${to} is a folder`);
    if (ancestor !== dest && !isDir) fail(`a part of ${to} is a file, not a folder`);
    const tmp = join(dirname(dest), `.${process.pid}.tailor-export.tmp`);
    try {
      await mkdir(dirname(dest), { recursive: true });
      await copyFile(src, tmp);
      // The object is read-only; the workspace copy is the user's to edit.
      await chmod(tmp, 0o644 | (statSync(src).mode & 0o111));
      await rename(tmp, dest);
    } catch (e) {
      await rm(tmp, { force: true }).catch(() => undefined);
      const err = e as NodeJS.ErrnoException;
      const why =
        err.code === 'EACCES' || err.code === 'EPERM'
          ? 'permission denied (is the target or its folder read-only or immutable?)'
          : err.code === 'ENOSPC'
            ? 'no space left on the device'
            : err.code === 'ENOTDIR'
              ? `a part of ${to} is a file, not a folder`
              : (err.message ?? String(e));
      fail(`cannot write ${to}: ${why}`);
    }
    written.push(relative(workdir, dest));
  }
  return written;
}
