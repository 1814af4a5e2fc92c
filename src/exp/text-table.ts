/** Plain-text tables for the terminal: padded columns, numbers right-aligned, long cells cut. */

export interface Column {
  title: string;
  /** Right-align (numbers). */
  right?: boolean;
  /** Longest cell before it is cut with '…' (default 40). */
  max?: number;
}

const GAP = 2;

const cut = (s: string, max: number) => (s.length > max ? `${s.slice(0, Math.max(1, max - 1))}…` : s);

function widthsOf(columns: Column[], rows: string[][]): number[] {
  return columns.map((c, i) =>
    Math.max(c.title.length, ...rows.map((r) => Math.min(c.max ?? 40, (r[i] ?? '').length))),
  );
}

/** Render rows under a header line; every row has one cell per column. */
export function renderTable(columns: Column[], rows: string[][]): string {
  const cells = rows.map((r) => columns.map((c, i) => cut(r[i] ?? '', c.max ?? 40)));
  const widths = columns.map((c, i) => Math.max(c.title.length, ...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((cell, i) => (columns[i]!.right ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.title)), ...cells.map(line)].join('\n') + '\n';
}

/**
 * The table in at most `width` characters a line: first the optional columns go (priority under
 * 50, lowest first), then long cells are cut (down to 12 characters), then more columns go,
 * lowest `priority` first. Says which columns went.
 */
export function fitTable(
  columns: Column[],
  rows: string[][],
  priority: number[],
  width: number,
): { text: string; dropped: string[] } {
  let keep = columns.map((_, i) => i);
  let max = 40;
  const current = () => keep.map((i) => ({ ...(columns[i] as Column), max: Math.min(columns[i]?.max ?? 40, max) }));
  const kept = () => rows.map((r) => keep.map((i) => r[i] ?? ''));
  const total = () => widthsOf(current(), kept()).reduce((t, w) => t + w + GAP, -GAP);
  const dropped: string[] = [];
  const dropLowest = () => {
    const lowest = keep.reduce((a, b) => ((priority[b] ?? 0) < (priority[a] ?? 0) ? b : a));
    dropped.push((columns[lowest] as Column).title);
    keep = keep.filter((i) => i !== lowest);
  };
  while (keep.length > 1 && total() > width) {
    const lowest = Math.min(...keep.map((i) => priority[i] ?? 0));
    if (lowest < 50) dropLowest();
    else if (max > 12) max -= 4;
    else dropLowest();
  }
  return { text: renderTable(current(), kept()), dropped };
}
