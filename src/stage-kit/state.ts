/**
 * Keeping state that a code change must not reuse. Everything a stage keeps in `ctx.state` across
 * runs (per-item results, checkpoints, converted models) is keyed by `ctx.codeKey`, the hash of
 * the stage's code: results of old code are never served to new code, and no hand-bumped version
 * constant has to be remembered. Folders of other code keys are removed when a stage opens its
 * own, so state does not grow with every edit.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { hashBytes } from '../cache/hash.js';

/** Characters of the code key in folder names (64 bits: collisions are not a concern). */
const KEY_CHARS = 16;

/**
 * `ctx.state/<name>/<code key>`, created; sibling folders made by other code are deleted (they
 * can never be used again). Pass `keepOthers` for a folder other stages may share.
 */
export async function codeScopedDir(
  ctx: { state: string; codeKey: string },
  name: string,
  opts: { keepOthers?: boolean } = {},
): Promise<string> {
  const parent = join(ctx.state, name);
  const own = ctx.codeKey.slice(0, KEY_CHARS);
  await mkdir(join(parent, own), { recursive: true });
  if (!opts.keepOthers) {
    for (const entry of await readdir(parent)) {
      if (entry !== own) await rm(join(parent, entry), { recursive: true, force: true });
    }
  }
  return join(parent, own);
}

/** The key of one cached item: a hash of the code key and of everything else the item depends on. */
export function itemKey(codeKey: string, ...parts: ReadonlyArray<string | number | boolean>): string {
  return hashBytes(JSON.stringify([codeKey, ...parts]));
}

/** SHA-256 hex of bytes or text: the content hash of an item's inputs (the store's own hash). */
export { hashBytes } from '../cache/hash.js';
