/** Resolving `vars`: each value templated (vars may use other vars), cycles reported. */
import { didYouMean } from './levenshtein.js';
import { templateNode, walk, type Lookup, type Scope } from './template.js';
import { toJS, type PMap } from './tree.js';
import type { Diagnostic } from './types.js';

export interface ResolvedVars {
  /** Plain values of all vars, templates resolved. */
  values: Record<string, unknown>;
  /** `${vars.a.b}` lookup for templating. */
  lookup(path: string[]): Lookup;
}

/**
 * Resolve every var (unused ones too, so their errors show). A var may refer to others; a cycle is
 * reported at the reference that closes it. A var whose template failed keeps its text.
 */
export function resolveVars(vars: PMap | undefined, diags: Diagnostic[]): ResolvedVars {
  const done = new Map<string, unknown>();
  const resolving: string[] = [];
  const get = (name: string): Lookup => {
    if (done.has(name)) return { value: done.get(name) };
    const e = vars?.entries.get(name);
    if (!e)
      return { error: `unknown variable "vars.${name}"`, hint: didYouMean(name, vars ? vars.entries.keys() : []) };
    if (resolving.includes(name)) {
      const loop = [...resolving.slice(resolving.indexOf(name)), name].map((n) => `vars.${n}`);
      return { error: `cycle in vars: ${loop.join(' -> ')}` };
    }
    resolving.push(name);
    const value = toJS(templateNode(e.value, ['vars', name], scope, diags));
    resolving.pop();
    done.set(name, value);
    return { value };
  };
  const lookup = (path: string[]): Lookup => {
    const [name = '', ...rest] = path;
    const top = get(name);
    return 'error' in top ? top : walk(top.value, rest, `vars.${name}`);
  };
  const scope: Scope = { vars: lookup };
  for (const name of vars?.entries.keys() ?? []) get(name);
  return { values: Object.fromEntries(done), lookup };
}
