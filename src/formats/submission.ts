/**
 * The Kaggle submission CSV (DESIGN.md): header `image_id,label_id`, one row per test image ordered
 * by numeric id, labels space-separated, `123,` for an image without labels. A writer and a strict
 * reader, so the submit stage can check that what it wrote reads back to the same rows.
 */

/** submit's output. */
export const SUBMISSION_FILE = 'submission.csv';

export const SUBMISSION_HEADER = 'image_id,label_id';

export interface SubmissionRow {
  imageId: string;
  labels: string[];
}

/** Ids and labels go into the CSV unquoted: refuse anything that would break its shape. */
const SAFE = /^[^,\s"]+$/;

/** Order ids numerically when both are decimal integers (any length), else numbers first, then text. */
export function compareIds(a: string, b: string): number {
  const na = /^\d+$/.test(a);
  const nb = /^\d+$/.test(b);
  if (na && nb) {
    const sa = a.replace(/^0+(?=\d)/, '');
    const sb = b.replace(/^0+(?=\d)/, '');
    if (sa.length !== sb.length) return sa.length - sb.length;
    if (sa !== sb) return sa < sb ? -1 : 1;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  if (na !== nb) return na ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Rows in submission order: images by numeric id, each image's labels by numeric id. */
export function canonicalRows(rows: SubmissionRow[]): SubmissionRow[] {
  return rows
    .map((r) => ({ imageId: r.imageId, labels: [...r.labels].sort(compareIds) }))
    .sort((x, y) => compareIds(x.imageId, y.imageId));
}

/**
 * The CSV text for rows, written in the order given (pass `canonicalRows(...)`); throws on a
 * repeated image id or on ids that cannot be written plainly.
 */
export function formatSubmission(rows: SubmissionRow[]): string {
  const lines = [SUBMISSION_HEADER];
  const seen = new Set<string>();
  for (const row of rows) {
    if (!SAFE.test(row.imageId))
      throw new Error(
        `image id ${JSON.stringify(row.imageId)} cannot be written to the submission CSV (comma, space or quote)`,
      );
    if (seen.has(row.imageId))
      throw new Error(`image id ${JSON.stringify(row.imageId)} appears twice in the submission`);
    seen.add(row.imageId);
    for (const l of row.labels) {
      if (!SAFE.test(l))
        throw new Error(
          `label id ${JSON.stringify(l)} cannot be written to the submission CSV (comma, space or quote)`,
        );
    }
    lines.push(`${row.imageId},${row.labels.join(' ')}`);
  }
  return lines.join('\n') + '\n';
}

/** Parse a submission CSV strictly; errors name the line. Accepts `\n` or `\r\n` line ends. */
export function parseSubmission(text: string): SubmissionRow[] {
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  if (lines[0] !== SUBMISSION_HEADER)
    throw new Error(`line 1: expected header "${SUBMISSION_HEADER}", found ${JSON.stringify(lines[0] ?? '')}`);
  const rows: SubmissionRow[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    const comma = line.indexOf(',');
    if (comma <= 0 || line.indexOf(',', comma + 1) !== -1)
      throw new Error(`line ${i + 1}: expected "image_id,labels", found ${JSON.stringify(line)}`);
    const imageId = line.slice(0, comma);
    const rest = line.slice(comma + 1);
    const labels = rest === '' ? [] : rest.split(' ');
    if (!SAFE.test(imageId) || labels.some((l) => !SAFE.test(l)))
      throw new Error(`line ${i + 1}: malformed id or label list ${JSON.stringify(line)}`);
    rows.push({ imageId, labels });
  }
  return rows;
}
