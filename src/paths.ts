/** Where tailor itself lives (for built-in stages), found from this file whether run from src/ or dist/. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(start: string): string {
  let dir = start;
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'tailor') return dir;
      } catch {
        // unreadable package.json: keep walking up
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`internal error: tailor's package.json not found above ${start}`);
    dir = up;
  }
}

/** Absolute path of the tailor package root (holds `stages/`, `pipelines/`, `package.json`). */
export const TAILOR_ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));

/** Absolute path of a built-in stage module's source. */
export function builtinStagePath(name: string): string {
  return join(TAILOR_ROOT, 'stages', `${name}.ts`);
}
