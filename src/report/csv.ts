/** The small CSV tables stages write, as a header to look columns up in and rows of cells. */
import { parseCsv as parseCsvRows } from '../data/csv-read.js';

export interface CsvTable {
  /** Header cells, trimmed and lower-cased for lookups. */
  header: string[];
  rows: string[][];
}

/** Parse CSV text (RFC 4180, by the shared reader); the first row is the header. Empty lines are skipped. */
export function parseCsv(text: string): CsvTable {
  const records = parseCsvRows(text).filter((r) => r.length > 1 || r[0] !== '');
  const [head = [], ...rows] = records;
  return { header: head.map((h) => h.trim().toLowerCase()), rows };
}

/** Index of the first header among `names` (lower case), or -1. */
export function columnOf(table: CsvTable, ...names: string[]): number {
  for (const n of names) {
    const i = table.header.indexOf(n);
    if (i >= 0) return i;
  }
  return -1;
}

/** A cell as a number (NaN when empty or not numeric). */
export function numberAt(row: string[], col: number): number {
  const s = col >= 0 ? row[col]?.trim() : undefined;
  return s === undefined || s === '' ? Number.NaN : Number(s);
}
