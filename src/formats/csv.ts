/**
 * CSV, one writer and one reader for every table tailor writes or reads (failure reports, label
 * maps, frequency and method tables, report inputs). Writing follows RFC 4180 quoting; a missing
 * or non-finite number (NaN, ±Infinity) is an empty cell, everywhere. Reading is csv-parse's:
 * quoted fields with commas, doubled quotes and line breaks, `\r\n` or `\n`, and a leading
 * byte-order mark (spreadsheet programs save one) are all handled.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { parse } from 'csv-parse/sync';

export type CsvValue = string | number | boolean | null | undefined;

/** One cell: quoted when it holds a comma, quote or line break; NaN, ±Infinity and null are empty. */
export function csvCell(v: CsvValue): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One CSV line, with its newline. */
export function csvLine(cells: readonly CsvValue[]): string {
  return cells.map(csvCell).join(',') + '\n';
}

/** A CSV document: the header line, then one line per row. */
export function toCsv(header: readonly string[], rows: ReadonlyArray<readonly CsvValue[]>): string {
  return [header, ...rows].map(csvLine).join('');
}

/** Round a metric for tables and JSON (6 decimals: stable text, no float noise). */
export const round6 = (v: number): number => Math.round(v * 1e6) / 1e6;

/** Writes CSV lines to a file as they come, respecting back-pressure (million-row reports). */
export class CsvWriter {
  private readonly stream: WriteStream;
  constructor(file: string, header: readonly string[]) {
    this.stream = createWriteStream(file, 'utf8');
    this.stream.write(csvLine(header));
  }
  async write(cells: readonly CsvValue[]): Promise<void> {
    if (!this.stream.write(csvLine(cells))) await once(this.stream, 'drain');
  }
  async close(): Promise<void> {
    this.stream.end();
    await once(this.stream, 'finish');
  }
}

/** Rows of fields; blank lines are skipped, rows may have different lengths. */
export function parseCsv(text: string): string[][] {
  return parse(text, {
    bom: true,
    relax_column_count: true,
    skip_empty_lines: true,
    // Any line end, even mixed in one file (csv-parse would otherwise take the first one seen).
    record_delimiter: ['\r\n', '\n', '\r'],
  }) as string[][];
}

/** A parsed CSV table: header cells (trimmed, lower case, for lookups) and the rows after it. */
export interface CsvTable {
  header: string[];
  rows: string[][];
}

export function parseCsvTable(text: string): CsvTable {
  const [head = [], ...rows] = parseCsv(text);
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
export function numberAt(row: readonly string[], col: number): number {
  const s = col >= 0 ? row[col]?.trim() : undefined;
  return s === undefined || s === '' ? Number.NaN : Number(s);
}
