/**
 * The environment variables through which a `cmd` receives its `${...}` values: their names (one
 * rule for the loader, which writes references to them, and the runner, which sets the run-time
 * ones) and the text a value becomes.
 *
 *   ${params.a.b} -> TAILOR_PARAM_A_B    ${vars.x} -> TAILOR_VAR_X    ${item.k} -> TAILOR_ITEM_K
 *   ${out}        -> TAILOR_OUT          ${needs.NAME} -> TAILOR_NEED_<NAME>
 *
 * Names are upper-cased with every other character as `_`; two different references that would
 * get one name get `_2`, `_3`, … in a fixed order, so a name never means two values.
 */

/** The variable of the stage's output folder (also set for module stages). */
export const OUT_ENV = 'TAILOR_OUT';

/** `a-b.c` -> `A_B_C`. */
export function envPart(text: string): string {
  return text.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

/** Hands out names from a base, suffixed on a clash between different sources. */
export class EnvNames {
  private readonly bySource = new Map<string, string>();
  private readonly taken = new Set<string>();

  /** The name for `source` (a reference such as `params.a.b`), `base` when it is still free. */
  name(source: string, base: string): string {
    const known = this.bySource.get(source);
    if (known) return known;
    let name = base;
    for (let n = 2; this.taken.has(name); n++) name = `${base}_${n}`;
    this.taken.add(name);
    this.bySource.set(source, name);
    return name;
  }
}

/** The variable of each upstream stage's folder, by stage name (order of `needs` does not matter). */
export function needEnvNames(needs: Iterable<string>): Map<string, string> {
  const names = new EnvNames();
  const out = new Map<string, string>();
  for (const stage of [...new Set(needs)].sort()) out.set(stage, names.name(stage, `TAILOR_NEED_${envPart(stage)}`));
  return out;
}

/** The text of a value in the environment: strings as they are, everything else as JSON. */
export function envText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** Whether a value is a plain number, inert in arithmetic and in any language's program text. */
export function isNumeric(value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value);
  return typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value);
}

/** POSIX shell quoting of one word: single quotes, each `'` written as `'\''`. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** `export A='…' B='…'; ` in front of `cmd` (nothing when there is nothing to export). */
export function withExports(entries: ReadonlyArray<readonly [string, string]>, cmd: string): string {
  if (entries.length === 0) return cmd;
  return `export ${entries.map(([k, v]) => `${k}=${shellQuote(v)}`).join(' ')}; ${cmd}`;
}
