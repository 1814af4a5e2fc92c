/** `foreach` expansion: one stage per list item, or per combination of a map of lists (matrix). */
import { error, keyPath } from './diagnostics.js';
import { kindName, toJS, type PNode } from './tree.js';
import type { Diagnostic } from './types.js';

export interface ForeachMember {
  /** Expanded stage name: `GROUP@label`. */
  name: string;
  /** The value `${item}` refers to (for a matrix, a map of dimension -> value). */
  item: unknown;
}

/** More stages than this from one foreach is almost surely a mistake (a matrix blown up). */
const MAX_MEMBERS = 10_000;

/** Longest stage name after foreach expansion (stage names name folders and files in the cache). */
export const MAX_STAGE_NAME = 200;

/**
 * Whether a (possibly expanded) stage name is safe as one path component: `group` or `group@label`
 * of [A-Za-z0-9._-], starting with a letter, digit or `_` (so never `.`, `..`, `-x` or a path).
 */
export function isSafeStageName(name: string): boolean {
  return name.length <= MAX_STAGE_NAME && /^[A-Za-z0-9_][A-Za-z0-9._-]*(@[A-Za-z0-9._-]+)?$/.test(name);
}

/** A stage-name-safe label: anything outside [A-Za-z0-9._-] becomes `_`. */
export function sanitizeLabel(label: string): string {
  return label.replace(/[^A-Za-z0-9._-]/g, '_');
}

/** A `needs` name with its foreach part sanitized the same way member names are. */
export function sanitizeStageRef(name: string): string {
  const at = name.indexOf('@');
  return at < 0 ? name : `${name.slice(0, at)}@${sanitizeLabel(name.slice(at + 1))}`;
}

/** Label of one item: a scalar as written, an object's `name`, else its index. */
function labelOf(value: unknown, index: number): string {
  if (value !== null && typeof value === 'object') {
    const name = Array.isArray(value) ? undefined : (value as Record<string, unknown>).name;
    return name !== undefined && (typeof name !== 'object' || name === null) ? String(name) : String(index);
  }
  return String(value);
}

function label(value: unknown, index: number): string {
  return sanitizeLabel(labelOf(value, index)) || String(index);
}

/**
 * The members of a foreach group, from the (already vars-templated) `foreach` value, or undefined
 * after pushing a Diagnostic when the value is not a non-empty list or map of non-empty lists.
 */
export function foreachMembers(group: string, node: PNode, diags: Diagnostic[]): ForeachMember[] | undefined {
  const key = keyPath('stages', group, 'foreach');
  if (node.kind === 'seq') {
    if (node.items.length === 0) {
      diags.push(error(`${key} is an empty list`, node.pos, key));
      return undefined;
    }
    return node.items.map((n, i) => {
      const item = toJS(n);
      return { name: `${group}@${label(item, i)}`, item };
    });
  }
  if (node.kind !== 'map') {
    diags.push(error(`${key} must be a list or a map of lists, got ${kindName(node)}`, node.pos, key));
    return undefined;
  }
  const dims: Array<{ key: string; values: unknown[] }> = [];
  for (const [dim, e] of node.entries) {
    if (e.value.kind !== 'seq' || e.value.items.length === 0) {
      const what = e.value.kind === 'seq' ? 'an empty list' : kindName(e.value);
      diags.push(
        error(`${key}.${dim} must be a non-empty list (a matrix dimension), got ${what}`, e.value.pos, `${key}.${dim}`),
      );
      return undefined;
    }
    dims.push({ key: dim, values: e.value.items.map(toJS) });
  }
  if (dims.length === 0) {
    diags.push(error(`${key} is an empty map`, node.pos, key));
    return undefined;
  }
  const total = dims.reduce((n, d) => n * d.values.length, 1);
  if (total > MAX_MEMBERS) {
    diags.push(error(`${key} makes ${total} stages (more than ${MAX_MEMBERS})`, node.pos, key));
    return undefined;
  }
  // Cartesian product in key order, the last dimension varying fastest.
  let combos: Array<{ item: Record<string, unknown>; labels: string[] }> = [{ item: {}, labels: [] }];
  for (const dim of dims) {
    combos = combos.flatMap((c) =>
      dim.values.map((v, i) => ({ item: { ...c.item, [dim.key]: v }, labels: [...c.labels, label(v, i)] })),
    );
  }
  return combos.map((c) => ({ name: `${group}@${c.labels.join('-')}`, item: c.item }));
}
