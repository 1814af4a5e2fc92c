/** Turning two sets of ingredients into reasons a person can read: "param size: 224 -> 299". */
import type { Ingredients, LocalIngredients } from '../cache/key-ingredients.js';
import { canonicalJson } from './canonical-json.js';

/** Reasons why `now` differs from `before` (empty when nothing local differs). */
export function explainChange(
  before: Ingredients,
  now: LocalIngredients & { needs?: Record<string, string> },
): string[] {
  const reasons: string[] = [];
  if (before.api !== now.api) reasons.push(`stage API version ${before.api} -> ${now.api}`);
  if (before.kind !== now.kind || before.definition !== now.definition) {
    reasons.push(now.kind === 'cmd' ? `command changed` : `module ${before.definition} -> ${now.definition}`);
  }
  if (before.seed !== now.seed) reasons.push(`seed ${before.seed} -> ${now.seed}`);
  reasons.push(...diffFlat('param', flatten(before.params), flatten(now.params)));
  reasons.push(...diffHashes('code', before.code?.files ?? {}, now.code?.files ?? {}));
  const pkgBefore = before.code?.packages ?? {};
  const pkgNow = now.code?.packages ?? {};
  for (const name of union(pkgBefore, pkgNow)) {
    if (pkgBefore[name] !== pkgNow[name])
      reasons.push(`package ${name}: ${pkgBefore[name] ?? 'none'} -> ${pkgNow[name] ?? 'none'}`);
  }
  reasons.push(...diffHashes('file', before.deps, now.deps));
  if (now.needs) {
    for (const name of union(before.needs, now.needs)) {
      const a = before.needs[name];
      const b = now.needs[name];
      if (a === undefined) reasons.push(`new upstream ${name}`);
      else if (b === undefined) reasons.push(`upstream ${name} removed`);
      else if (a !== b) reasons.push(`upstream ${name} output changed`);
    }
  }
  return reasons;
}

function diffHashes(label: string, a: Record<string, string>, b: Record<string, string>): string[] {
  const out: string[] = [];
  for (const k of union(a, b)) {
    if (a[k] === b[k]) continue;
    if (a[k] === undefined) out.push(`${label} ${k} added`);
    else if (b[k] === undefined) out.push(`${label} ${k} removed`);
    else if (b[k] === 'missing') out.push(`${label} ${k} is missing`);
    else out.push(`${label} ${k} changed`);
  }
  return out;
}

function diffFlat(label: string, a: Map<string, string>, b: Map<string, string>): string[] {
  const out: string[] = [];
  for (const k of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(k);
    const y = b.get(k);
    if (x !== y) out.push(`${label} ${k}: ${x ?? '(unset)'} -> ${y ?? '(unset)'}`);
  }
  return out;
}

/** Flatten nested params to dotted keys with compact JSON values (arrays stay whole). */
export function flatten(
  obj: Record<string, unknown>,
  prefix = '',
  out = new Map<string, string>(),
): Map<string, string> {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0) {
      flatten(v as Record<string, unknown>, key, out);
    } else {
      out.set(key, typeof v === 'string' ? v : canonicalJson(v));
    }
  }
  return out;
}

function union(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
}
