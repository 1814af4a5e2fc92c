/**
 * Flattening per-stage params and metrics to dotted columns (`train-head.holdout.micro_f1`), the
 * shape every experiment table, diff and verify check works on.
 */
import { canonicalJson } from '../run/canonical-json.js';

/** Numeric leaves of a metrics object as `prefix.path` -> number (arrays and strings are skipped). */
export function flattenMetrics(
  metrics: unknown,
  prefix = '',
  out: Record<string, number> = {},
): Record<string, number> {
  if (typeof metrics === 'number') {
    if (prefix && Number.isFinite(metrics)) out[prefix] = metrics;
    return out;
  }
  if (metrics === null || typeof metrics !== 'object' || Array.isArray(metrics)) return out;
  for (const [k, v] of Object.entries(metrics as Record<string, unknown>))
    flattenMetrics(v, prefix ? `${prefix}.${k}` : k, out);
  return out;
}

/** Per-stage params (`{stage: {k: v}}`, as runs record them) as `stage.k` -> value (arrays stay whole). */
export function flattenStageParams(params: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (params === null || typeof params !== 'object') return out;
  const walk = (value: unknown, key: string): void => {
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0) {
      for (const [k, v] of Object.entries(value)) walk(v, `${key}.${k}`);
    } else {
      out[key] = value;
    }
  };
  for (const [stage, p] of Object.entries(params as Record<string, unknown>)) {
    if (p !== null && typeof p === 'object' && !Array.isArray(p))
      for (const [k, v] of Object.entries(p)) walk(v, `${stage}.${k}`);
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

/** A number for a table cell: up to 4 decimals, integers as they are. */
export function formatNumber(v: number | undefined): string {
  if (v === undefined) return '';
  if (Number.isInteger(v)) return String(v);
  const abs = Math.abs(v);
  return abs !== 0 && (abs < 1e-3 || abs >= 1e6) ? v.toExponential(3) : v.toFixed(4);
}
