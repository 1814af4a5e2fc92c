/** Reading the small CSV tables stages write (RFC 4180: quoted cells, doubled quotes, CRLF). */

export interface CsvTable {
  /** Header cells, trimmed and lower-cased for lookups. */
  header: string[];
  rows: string[][];
}

/** Parse CSV text; the first row is the header. Empty lines are skipped. */
export function parseCsv(text: string): CsvTable {
  const records: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"' && cell === '') quoted = true;
    else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      if (row.length > 1 || row[0] !== '') records.push(row);
      row = [];
      cell = '';
    } else cell += ch;
  }
  if (cell !== '' || row.length > 0) {
    row.push(cell);
    records.push(row);
  }
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
