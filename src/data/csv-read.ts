/**
 * Reading small CSV files (label maps) with RFC 4180 quoting: quoted fields may hold commas,
 * doubled quotes and line breaks.
 */

/** Parse CSV text into rows of fields. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/** Label id -> name from a label map CSV with a header holding `labelId` and `labelName`. */
export function labelNames(text: string): Map<string, string> {
  const [header, ...rows] = parseCsv(text);
  const idCol = header?.indexOf('labelId') ?? -1;
  const nameCol = header?.indexOf('labelName') ?? -1;
  if (idCol < 0 || nameCol < 0) throw new Error('label map CSV needs the columns labelId and labelName');
  const names = new Map<string, string>();
  for (const r of rows) {
    const id = r[idCol];
    if (id !== undefined && id !== '') names.set(id, r[nameCol] ?? '');
  }
  return names;
}
