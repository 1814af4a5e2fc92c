/**
 * Symbolic links in a stage's output must stay inside it. An object's tree hash records a link's
 * text, not what it points at, and `export` and downstream stages follow links: `ln -s / $out/root`
 * would hand the host's files to anyone reading the output, and a change to a target outside would
 * go unseen. So at commit every link is resolved (lexically, from its own folder) and one that is
 * absolute or climbs out with `..` fails the stage with a clear message. A link between two places
 * inside the output is fine: what it points at is hashed as the file or folder it is.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { isInside } from './safe-path.js';

/** Thrown by commit when an output cannot be accepted; the message is for the user. */
export class OutputRejected extends Error {
  override name = 'OutputRejected';
}

/** The first link under `root` that leads outside it, described; undefined when there is none. */
export function escapingLink(root: string, dir = root): string | undefined {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) {
      const found = escapingLink(root, path);
      if (found) return found;
    } else if (e.isSymbolicLink()) {
      const target = readlinkSync(path);
      if (isAbsolute(target) || !isInside(root, resolve(dirname(path), target)))
        return `output link ${JSON.stringify(relative(root, path))} points to ${JSON.stringify(target)}, outside the stage's output folder: links in an output must stay inside it (copy the file instead)`;
    }
  }
  return undefined;
}
