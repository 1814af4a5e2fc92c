/**
 * Per-stage params and metrics as dotted columns (`train-head.holdout.micro_f1`), the shape every
 * experiment table, diff and verify check works on (flattening itself: src/util/flatten.ts).
 */
import { canonicalJson } from '../run/canonical-json.js';
import { anyLeaf, flatten, isFiniteNumber } from '../util/flatten.js';

/** Finite numeric leaves of a metrics object as `prefix.path` -> number (arrays and strings are skipped). */
export function flattenMetrics(metrics: unknown, prefix = ''): Record<string, number> {
  return flatten(metrics, isFiniteNumber, { prefix });
}

/** Per-stage params (`{stage: {k: v}}`, as runs record them) as `stage.k` -> value (arrays stay whole). */
export function flattenStageParams(params: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (params === null || typeof params !== 'object') return out;
  for (const [stage, p] of Object.entries(params as Record<string, unknown>)) {
    if (p !== null && typeof p === 'object' && !Array.isArray(p) && Object.keys(p).length > 0)
      Object.assign(out, flatten(p, anyLeaf, { prefix: stage, arrays: 'leaf' }));
  }
  return out;
}

/** A param value as a table cell: strings as they are, everything else as compact JSON. */
export function paramText(value: unknown): string {
  return value === undefined ? '' : typeof value === 'string' ? value : canonicalJson(value);
}

/** Keys whose value is not the same in every record (a key missing from some records differs). */
export function differingKeys(records: Array<Record<string, unknown>>): string[] {
  const keys = new Set(records.flatMap((r) => Object.keys(r)));
  return [...keys]
    .filter((k) => new Set(records.map((r) => (k in r ? JSON.stringify(r[k]) : '\u0000missing'))).size > 1)
    .sort();
}

/** Whether a flattened metric name is a holdout micro-F1 (the number people compare runs by). */
export function isHeadlineMetric(name: string): boolean {
  return /(^|\.)holdout[._]micro_f1$/.test(name);
}
