/** Dotted paths into nested metrics (`holdout.micro_f1`) and flattening for tables. */

/** The value at a dotted path, or undefined. */
export function valueAt(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** The number at a dotted path, or undefined. */
export function numberAtPath(obj: unknown, path: string): number | undefined {
  const v = valueAt(obj, path);
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export type Scalar = string | number | boolean | null;

/**
 * Scalars of a nested object by dotted key, depth first in key order. Arrays are left out:
 * per-epoch histories belong in charts, not tables.
 */
export function flatten(obj: unknown, prefix = '', out: Record<string, Scalar> = {}): Record<string, Scalar> {
  if (obj === null || typeof obj !== 'object') {
    if (prefix) out[prefix] = obj as Scalar;
    return out;
  }
  if (Array.isArray(obj)) return out;
  for (const [k, v] of Object.entries(obj)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  return out;
}
