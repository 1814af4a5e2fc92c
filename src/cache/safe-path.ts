/**
 * Paths built from data (stage names, labels) must stay inside the folder they are meant for: the
 * state folder of a stage named `..` would be the cache root. Names are checked where they are
 * read (src/pipeline), and every path made from one is checked again here, with resolve+relative.
 */
import { isAbsolute, join, relative, resolve } from 'node:path';

/** `base/...parts`, or an error when the result is not strictly inside `base`. */
export function childPath(base: string, ...parts: string[]): string {
  const root = resolve(base);
  const path = resolve(join(root, ...parts));
  const rel = relative(root, path);
  if (rel === '' || rel === '..' || rel.startsWith('../') || isAbsolute(rel))
    throw new Error(`internal error: ${JSON.stringify(parts.join('/'))} would leave ${root}`);
  return path;
}

/** Whether `path` is `base` or inside it (both resolved, no links followed). */
export function isInside(base: string, path: string): boolean {
  const rel = relative(resolve(base), resolve(path));
  return rel === '' || (rel !== '..' && !rel.startsWith('../') && !isAbsolute(rel));
}
