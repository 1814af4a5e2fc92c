/**
 * Dotted paths into nested JSON values (`holdout.micro_f1`): reading one path, and flattening a
 * value to `path -> leaf` — the shape every metrics table, experiment diff and verify check uses.
 */

export type Scalar = string | number | boolean | null;

/** The value at a dotted path, or undefined. */
export function valueAt(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** The finite number at a dotted path, or undefined. */
export function numberAtPath(obj: unknown, path: string): number | undefined {
  const v = valueAt(obj, path);
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export interface FlattenOptions {
  /** Arrays: left out (default; per-epoch histories belong in charts) or kept whole as leaves. */
  arrays?: 'skip' | 'leaf';
  /** Start of every path (`stage` gives `stage.key`). */
  prefix?: string;
}

/**
 * Leaves of a nested value by dotted path, depth first in key order. An empty object is a leaf
 * (so `{}` params still show); `keep` filters leaves (e.g. numbers only).
 */
export function flatten<T = unknown>(
  value: unknown,
  keep: (leaf: unknown) => leaf is T = anyLeaf as (leaf: unknown) => leaf is T,
  opts: FlattenOptions = {},
): Record<string, T> {
  const out: Record<string, T> = {};
  const walk = (v: unknown, path: string): void => {
    if (Array.isArray(v)) {
      if (opts.arrays === 'leaf' && path && keep(v)) out[path] = v;
      return;
    }
    if (v !== null && typeof v === 'object' && Object.keys(v).length > 0) {
      for (const [k, child] of Object.entries(v)) walk(child, path ? `${path}.${k}` : k);
      return;
    }
    if (path && keep(v)) out[path] = v;
  };
  walk(value, opts.prefix ?? '');
  return out;
}

/** Every leaf. */
export const anyLeaf = (_leaf: unknown): _leaf is unknown => true;

/** Whether a leaf is a finite number (for metrics tables). */
export const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Whether a leaf is a JSON scalar. */
export const isScalar = (v: unknown): v is Scalar =>
  v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
