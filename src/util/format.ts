/**
 * Numbers and durations as text, one set for every place that shows them: logs, the report, the
 * experiment tables. (The engine's progress bar keeps its compact `3m05s` in src/cli/progress.ts.)
 */

/** A number for people: integers with thousands separators, others to 4 significant decimals. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(a >= 1 ? 2 : 4);
}

/** A number in a table column: 4 decimals (so columns line up), integers as they are, tiny or huge in exponent form. */
export function formatCell(v: number | undefined): string {
  if (v === undefined) return '';
  if (Number.isInteger(v)) return String(v);
  const abs = Math.abs(v);
  return abs !== 0 && (abs < 1e-3 || abs >= 1e6) ? v.toExponential(3) : v.toFixed(4);
}

/** Seconds as `0.4 s`, `12 s`, `3 min 05 s`, `1 h 02 min`. */
export function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 60) return `${Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(Math.round(s % 60)).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** Items per second as `310/s` (one decimal under 10). */
export function formatRate(items: number, seconds: number): string {
  const rate = seconds > 0 ? items / seconds : 0;
  return `${rate.toFixed(rate < 10 ? 1 : 0)}/s`;
}
