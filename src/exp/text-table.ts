/** Plain-text tables for the terminal: padded columns, numbers right-aligned, long cells cut. */

export interface Column {
  title: string;
  /** Right-align (numbers). */
  right?: boolean;
  /** Longest cell before it is cut with '…' (default 40). */
  max?: number;
}

/** Render rows under a header line; every row has one cell per column. */
export function renderTable(columns: Column[], rows: string[][]): string {
  const cut = (s: string, max: number) => (s.length > max ? `${s.slice(0, Math.max(1, max - 1))}…` : s);
  const cells = rows.map((r) => columns.map((c, i) => cut(r[i] ?? '', c.max ?? 40)));
  const widths = columns.map((c, i) => Math.max(c.title.length, ...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((cell, i) => (columns[i]!.right ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.title)), ...cells.map(line)].join('\n') + '\n';
}
