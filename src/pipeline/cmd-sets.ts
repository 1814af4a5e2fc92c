/**
 * `--set STAGE.KEY=…` on a `cmd` stage must reach the command: a key that is neither in the
 * stage's params nor referenced by its `${params...}` would rerun the stage and change nothing
 * (`--set train.lrr=0.001`), so it is an error with the nearest known name. (Module stages check
 * their params against the module's schema instead.)
 */
import { error, keyPath } from './diagnostics.js';
import { didYouMean } from './levenshtein.js';
import type { Instance } from './stage-instances.js';
import type { Diagnostic } from './types.js';

/** True if one path is a prefix of the other (`a` covers `a.b`, and `a.b` is part of `a`). */
function overlaps(a: string[], b: string[]): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function checkCmdSets(inst: Instance, referenced: string[][], diags: Diagnostic[]): void {
  for (const { override, path, existed } of inst.sets ?? []) {
    if (existed || referenced.some((r) => overlaps(r, path))) continue;
    const known = new Set<string>(referenced.map((r) => r.join('.')).filter(Boolean));
    const params = inst.plain?.params;
    if (params && typeof params === 'object')
      for (const k of Object.keys(params)) if (k !== path.join('.')) known.add(k);
    known.delete(path.join('.'));
    const name = path.join('.');
    diags.push(
      error(
        `--set ${override.arg}: stage "${inst.name}" runs a command that does not use param "${name}" (it is not in its params and no \${params.${name}} refers to it)`,
        override.keyPos,
        keyPath('stages', inst.group, 'params', ...path),
        didYouMean(name, known),
      ),
    );
  }
}
