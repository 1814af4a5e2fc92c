/** Writing small CSV tables (RFC 4180 quoting), for the per-method and per-label tables stages write. */

/** Quote a cell when it holds a comma, quote, or line break. */
export function csvCell(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** A CSV document: the header line, then one line per row, each ending with a newline. */
export function toCsv(header: string[], rows: Array<Array<string | number | boolean | null | undefined>>): string {
  return [header, ...rows].map((r) => r.map(csvCell).join(',')).join('\n') + '\n';
}

/** Round a metric for tables and JSON (6 decimals: stable text, no float noise). */
export const round6 = (v: number): number => Math.round(v * 1e6) / 1e6;
