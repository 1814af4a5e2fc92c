/**
 * Templating a `cmd`: every `${...}` becomes a reference to an environment variable holding its
 * value (cmd-env.ts), written for the quoting context it sits in (shell-context.ts), and the values
 * known at load time are exported in front of the command (`export TAILOR_PARAM_X='…'; …`, each a
 * single-quoted literal). `${out}` and `${needs.NAME}` are exported by the runner. So no value is
 * ever parsed as shell code, whatever quotes surround its reference; what cannot be made safe is
 * an error at the reference's line and column.
 */
import { error, keyPath } from './diagnostics.js';
import { EnvNames, OUT_ENV, envPart, envText, isNumeric, needEnvNames, withExports } from './cmd-env.js';
import { CommandError, SENTINEL_BASE, rewriteReferences, sentinel, type Slot } from './shell-context.js';
import { partsOf, resolveRef, TemplateError, type Ref, type Scope } from './template.js';
import { posWithin, type PNode, type PScalar } from './tree.js';
import type { Diagnostic } from './types.js';

export interface TemplatedCommand {
  /** The command as the stage runs it (before the runner's export of TAILOR_OUT and TAILOR_NEED_*). */
  cmd: string;
  /** Param paths the command refers to (`${params.a.b}` -> ['a', 'b']; `${params}` -> []). */
  paramPaths: string[][];
}

/** One reference of the command, resolved. */
interface Found {
  ref: Ref;
  env: string;
  /** Value known at load time (undefined for `${out}` and `${needs.X}`). */
  value?: string;
  numeric: boolean;
}

/** The base variable name of a resolved reference expression (`params.a.b` -> TAILOR_PARAM_A_B). */
function baseName(expr: string): string {
  const dot = expr.indexOf('.');
  const head = dot < 0 ? expr : expr.slice(0, dot);
  const rest = dot < 0 ? '' : `_${envPart(expr.slice(dot + 1))}`;
  if (head === 'params') return `TAILOR_PARAM${rest}`;
  if (head === 'vars') return `TAILOR_VAR${rest}`;
  return `TAILOR_ITEM${rest}`;
}

function hasPrivateUse(s: string): boolean {
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    if (c >= SENTINEL_BASE && c <= 0xf8ff) return true;
  }
  return false;
}

/**
 * Template the `cmd` of a stage whose params and needs are final. Errors go to `diags` (then the
 * result is undefined); a command without `${` is returned as written.
 */
export function templateCommand(
  node: PNode,
  path: string[],
  scope: Scope & { cmd: NonNullable<Scope['cmd']> },
  diags: Diagnostic[],
): TemplatedCommand | undefined {
  if (node.kind !== 'scalar' || typeof node.value !== 'string') return undefined;
  const text = node.value;
  const key = keyPath(...path);
  const at = (n: PScalar, ref?: Ref) => (ref ? posWithin(n, ref.text) : n.pos);
  if (!text.includes('${')) return { cmd: text, paramPaths: [] };
  let parts;
  try {
    parts = partsOf(text);
  } catch (e) {
    diags.push(error((e as Error).message, posWithin(node, '${'), key));
    return undefined;
  }
  const needs = needEnvNames(scope.cmd.needs);
  const names = new EnvNames();
  const found: Found[] = [];
  const paramPaths: string[][] = [];
  let marked = '';
  let ok = true;
  for (const p of parts) {
    if (typeof p === 'string') {
      if (hasPrivateUse(p)) {
        diags.push(
          error('the command holds a private-use character (U+E000-U+F8FF), which tailor reserves', node.pos, key),
        );
        return undefined;
      }
      marked += p;
      continue;
    }
    let r;
    try {
      r = resolveRef(p, scope);
    } catch (e) {
      const hint = e instanceof TemplateError ? e.hint : undefined;
      diags.push(error(e instanceof Error ? e.message : String(e), at(node, p), key, hint));
      ok = false;
      continue;
    }
    const expr = r.expr ?? '';
    let f: Found;
    if ('keep' in r) {
      const env = expr === 'out' ? OUT_ENV : needs.get(expr.slice('needs.'.length));
      if (!env) throw new Error(`internal error: no variable for ${expr}`);
      f = { ref: p, env, numeric: false };
    } else {
      const value = envText(r.value);
      if (value.includes('\0')) {
        diags.push(error(`${p.text} holds a NUL character, which no command can receive`, at(node, p), key));
        ok = false;
        continue;
      }
      f = { ref: p, env: names.name(expr, baseName(expr)), value, numeric: isNumeric(r.value) };
      if (expr === 'params' || expr.startsWith('params.')) paramPaths.push(expr.split('.').slice(1));
    }
    marked += sentinel(found.length);
    found.push(f);
  }
  if (!ok) return undefined;
  const slots: Slot[] = found.map((f) => ({ env: f.env, numeric: f.numeric }));
  let replaced: Map<number, string>;
  try {
    replaced = rewriteReferences(marked, slots);
  } catch (e) {
    if (!(e instanceof CommandError)) throw e;
    const f = e.slot === undefined ? undefined : found[e.slot];
    const message = f
      ? `${f.ref.text}: ${e.message}`
      : `cmd: ${e.message} (tailor reads the quoting to substitute \${...})`;
    diags.push(error(message, at(node, f?.ref), key, e.hint));
    return undefined;
  }
  let cmd = '';
  for (const ch of marked) {
    const c = ch.charCodeAt(0) - SENTINEL_BASE;
    cmd += c >= 0 && c < found.length ? (replaced.get(c) ?? '') : ch;
  }
  const exports = new Map<string, string>();
  for (const f of found) if (f.value !== undefined) exports.set(f.env, f.value);
  return {
    cmd: withExports(
      [...exports].sort(([a], [b]) => (a < b ? -1 : 1)),
      cmd,
    ),
    paramPaths,
  };
}
