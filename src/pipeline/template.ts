/**
 * `${...}` templating over the positioned tree.
 *
 * References: `${vars.a.b}`, `${item}` / `${item.key}` (foreach stages), and in `cmd` only
 * `${params.a.b}`, `${out}` and `${needs.NAME}` (a `cmd` is templated by command.ts, which hands
 * every value over through an environment variable). A string that is exactly one reference takes
 * the value's type (`"${vars.size}"` -> 224); anything else interpolates. References nest
 * (`${needs.precompute@${item}}`): inner ones resolve first, raw. `$${` is a literal `${`.
 */
import { error, keyPath } from './diagnostics.js';
import { didYouMean } from './levenshtein.js';
import { fromJS, posWithin, type PEntry, type PNode, type PScalar } from './tree.js';
import type { Diagnostic } from './types.js';

/** A piece of a template string: literal text or a reference (whose name may itself hold references). */
export type Part = string | Ref;
export interface Ref {
  parts: Part[];
  /** The reference as written, `${vars.size}`, to find it in the source for error positions. */
  text: string;
}

/** A looked-up value, or why the lookup failed. */
export type Lookup = { value: unknown } | { error: string; hint?: string };

export interface Scope {
  /** Resolve `vars.<path>`. */
  vars(path: string[]): Lookup;
  /** The foreach item, when templating a foreach stage. */
  item?: { value: unknown };
  /** Present only while templating a `cmd`. */
  cmd?: { params: unknown; needs: ReadonlySet<string>; sanitize: (name: string) => string };
}

/** Parsed template strings: foreach members and long pipelines repeat the same few strings. */
const parsedCache = new Map<string, Part[]>();

/** The parts of a template string (cached); throws on an unterminated `${`. */
export function partsOf(s: string): Part[] {
  let parts = parsedCache.get(s);
  if (!parts) {
    parts = parse(s, 0, false).parts;
    // A long-lived process (watch mode) sees many edits: keep the cache bounded.
    if (parsedCache.size >= 10_000) parsedCache.clear();
    parsedCache.set(s, parts);
  }
  return parts;
}

/** Split a template string into parts; throws on an unterminated `${`. */
function parse(s: string, from: number, nested: boolean): { parts: Part[]; end: number } {
  const parts: Part[] = [];
  let lit = '';
  let i = from;
  while (i < s.length) {
    if (s.startsWith('$${', i)) {
      lit += '${';
      i += 3;
    } else if (s.startsWith('${', i)) {
      if (lit) parts.push(lit);
      lit = '';
      const inner = parse(s, i + 2, true);
      parts.push({ parts: inner.parts, text: s.slice(i, inner.end + 1) });
      i = inner.end + 1;
    } else if (nested && s[i] === '}') {
      if (lit) parts.push(lit);
      return { parts, end: i };
    } else {
      lit += s[i];
      i++;
    }
  }
  if (nested) throw new Error(`unterminated "\${" in ${JSON.stringify(s)}`);
  if (lit) parts.push(lit);
  return { parts, end: i };
}

/** Walk a dotted path into plain data; on a miss, say which key was unknown and suggest a sibling. */
export function walk(value: unknown, path: string[], what: string): Lookup {
  let cur = value;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i] ?? '';
    const here = `${what}${path
      .slice(0, i)
      .map((p) => `.${p}`)
      .join('')}`;
    if (Array.isArray(cur)) {
      const idx = Number(seg);
      if (!/^\d+$/.test(seg) || idx >= cur.length)
        return { error: `${here} has no item ${seg} (it has ${cur.length})` };
      cur = cur[idx];
    } else if (cur !== null && typeof cur === 'object') {
      if (!Object.hasOwn(cur, seg))
        return { error: `unknown key "${here}.${seg}"`, hint: didYouMean(seg, Object.keys(cur)) };
      cur = (cur as Record<string, unknown>)[seg];
    } else {
      return { error: `${here} is ${JSON.stringify(cur)}, it has no key "${seg}"` };
    }
  }
  return { value: cur };
}

/** Text of a value inside a longer string. */
function stringify(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v !== null && typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/**
 * What one reference resolves to: a value, or text to keep for the runner (`${out}`). `expr` is
 * the reference with its inner references resolved (`params.lr`, `needs.precompute@xception`).
 */
export type Resolved = ({ value: unknown } | { keep: string }) & { expr?: string };

export class TemplateError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

export function resolveRef(ref: Ref, scope: Scope): Resolved {
  // Inner references produce raw text (they build a name, not a shell word).
  let expr = '';
  for (const p of ref.parts) {
    if (typeof p === 'string') {
      expr += p;
      continue;
    }
    const r = resolveRef(p, scope);
    if ('keep' in r) throw new TemplateError(`${p.text} cannot be used inside another reference`);
    expr += stringify(r.value);
  }
  expr = expr.trim();
  const dot = expr.indexOf('.');
  const head = dot < 0 ? expr : expr.slice(0, dot);
  const rest = dot < 0 ? '' : expr.slice(dot + 1);
  return { ...resolveExpr(ref, head, rest, scope), expr };
}

function resolveExpr(ref: Ref, head: string, rest: string, scope: Scope): { value: unknown } | { keep: string } {
  const path = rest === '' ? [] : rest.split('.');
  const lookup = (l: Lookup): { value: unknown } => {
    if ('error' in l) throw new TemplateError(l.error, l.hint);
    return l;
  };
  switch (head) {
    case 'vars':
      if (path.length === 0) throw new TemplateError('${vars} needs a name: ${vars.NAME}');
      return lookup(scope.vars(path));
    case 'item':
      if (!scope.item) throw new TemplateError(`${ref.text} is only available in a stage with foreach`);
      return lookup(walk(scope.item.value, path, 'item'));
    case 'out':
    case 'needs':
    case 'params': {
      if (!scope.cmd) throw new TemplateError(`${ref.text} is only available in cmd`);
      if (head === 'params') return lookup(walk(scope.cmd.params, path, 'params'));
      if (head === 'out') {
        if (rest !== '') throw new TemplateError(`unknown reference ${ref.text}`, 'did you mean "${out}"?');
        return { keep: '${out}' };
      }
      const name = scope.cmd.sanitize(rest);
      if (!scope.cmd.needs.has(name)) {
        throw new TemplateError(
          `${ref.text}: "${name}" is not in this stage's needs`,
          didYouMean(name, scope.cmd.needs),
        );
      }
      return { keep: `\${needs.${name}}` };
    }
    default:
      throw new TemplateError(
        `unknown reference ${ref.text}`,
        didYouMean(head, scope.cmd ? ['vars', 'item', 'params', 'out', 'needs'] : ['vars', 'item']) ??
          'use ${vars.NAME} or ${item}',
      );
  }
}

/**
 * Template one string. Returns its value (typed when the string is exactly one reference), or
 * throws TemplateError with the reference text that failed.
 */
function templateString(s: string, scope: Scope): unknown {
  const parts = partsOf(s);
  const only = parts.length === 1 ? parts[0] : undefined;
  if (only !== undefined && typeof only !== 'string' && !scope.cmd) {
    const r = resolveRef(only, scope);
    return 'keep' in r ? r.keep : r.value;
  }
  let out = '';
  for (const p of parts) {
    if (typeof p === 'string') {
      out += p;
      continue;
    }
    const r = resolveRef(p, scope);
    out += 'keep' in r ? r.keep : stringify(r.value);
  }
  return out;
}

/** Find the outermost reference of `s` that fails, for an error position (first one by default). */
function failingRefText(s: string, scope: Scope): string | undefined {
  try {
    for (const p of partsOf(s)) {
      if (typeof p === 'string') continue;
      try {
        resolveRef(p, scope);
      } catch {
        return p.text;
      }
    }
  } catch {
    return '${';
  }
  return undefined;
}

function templateScalar(node: PScalar, path: string[], scope: Scope, diags: Diagnostic[]): PNode {
  const s = node.value;
  if (typeof s !== 'string' || !s.includes('${')) return node;
  try {
    const value = templateString(s, scope);
    if (typeof value === 'string') return { kind: 'scalar', value, pos: node.pos };
    return fromJS(value, node.pos);
  } catch (e) {
    const text = failingRefText(s, scope);
    const pos = text ? posWithin(node, text) : node.pos;
    if (e instanceof TemplateError) diags.push(error(e.message, pos, keyPath(...path), e.hint));
    else diags.push(error(e instanceof Error ? e.message : String(e), pos, keyPath(...path)));
    return node;
  }
}

/**
 * Template every string in a tree; errors go to `diags` (the failing string is left as written).
 * `path` is the key path of `node`; it is used as a stack while walking and restored on return.
 * Nodes without templates are returned as they are (no copies: most of a pipeline is literal).
 */
export function templateNode(node: PNode, path: string[], scope: Scope, diags: Diagnostic[]): PNode {
  switch (node.kind) {
    case 'scalar':
      return templateScalar(node, path, scope, diags);
    case 'seq': {
      let items: PNode[] | undefined;
      node.items.forEach((item, i) => {
        path.push(String(i));
        const value = templateNode(item, path, scope, diags);
        path.pop();
        if (value === item) return;
        items ??= node.items.slice();
        items[i] = value;
      });
      return items ? { ...node, items } : node;
    }
    case 'map': {
      let entries: Map<string, PEntry> | undefined;
      for (const [key, e] of node.entries) {
        path.push(key);
        const value = templateNode(e.value, path, scope, diags);
        path.pop();
        if (value === e.value) continue;
        entries ??= new Map(node.entries);
        entries.set(key, { ...e, value });
      }
      return entries ? { ...node, entries } : node;
    }
  }
}
