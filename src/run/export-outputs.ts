/** `export:` copies chosen outputs into the workspace (atomically, so a reader never sees half a file). */
import { copyFile, mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve, relative, isAbsolute } from 'node:path';
import type { StageSpec } from '../pipeline/types.js';

export async function exportOutputs(spec: StageSpec, outDir: string, workdir: string): Promise<string[]> {
  const written: string[] = [];
  for (const [from, to] of Object.entries(spec.export)) {
    const src = resolve(outDir, from);
    const rel = relative(outDir, src);
    if (rel.startsWith('..') || isAbsolute(rel))
      throw new Error(`export ${from}: path leaves the stage's output folder`);
    const dest = resolve(workdir, to);
    await mkdir(dirname(dest), { recursive: true });
    const tmp = join(dirname(dest), `.${process.pid}.tailor-export.tmp`);
    try {
      await copyFile(src, tmp);
      await rename(tmp, dest);
    } finally {
      await rm(tmp, { force: true }); // gone after a rename; a leftover after a failure
    }
    written.push(relative(workdir, dest));
  }
  return written;
}
