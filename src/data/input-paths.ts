/**
 * Where a data stage finds its inputs. Param values are paths; a relative path is read from an
 * upstream stage's output folder when the stage has upstream stages, else from the working folder:
 * - `from: NAME` picks the upstream stage `NAME` (must be in `needs`);
 * - without `from`, a stage with exactly one upstream stage reads from it;
 * - a stage without upstream stages reads from `ctx.workdir`.
 * Absolute paths are used as given. This lets `fetch` read `train.json` from `mosaic`'s output
 * (`needs: [mosaic]`, `train: train.json`) or a real `data/train.json` from the workspace.
 */
import { isAbsolute, resolve } from 'node:path';
import type { StageContext } from '../stage-api.js';
import { err, ok, type Result } from '../result.js';

/** The folder that relative input paths resolve against (see the module comment). */
export function inputBase(
  ctx: Pick<StageContext, 'needs' | 'workdir'>,
  from: string | undefined,
): Result<string, string> {
  const names = Object.keys(ctx.needs);
  if (from !== undefined) {
    const dir = ctx.needs[from];
    if (dir === undefined) {
      return err(`from: "${from}" is not an upstream stage (needs: ${names.length ? names.join(', ') : 'none'})`);
    }
    return ok(dir);
  }
  if (names.length === 0) return ok(ctx.workdir);
  if (names.length === 1) return ok(ctx.needs[names[0] as string] as string);
  return err(`this stage needs ${names.join(', ')}: set "from" to the one its inputs come from`);
}

/** Resolve a param path against the base folder (absolute paths stay as they are). */
export function resolveInput(base: string, path: string): string {
  return isAbsolute(path) ? path : resolve(base, path);
}
