/** Fetch failures by reason, from a stage's `failures.csv` (`imageId,url,reason`). */
import { columnOf } from '../formats/csv.js';
import { findFile, readCsv } from './stage-files.js';

export interface FailureSummary {
  total: number;
  /** Reasons with their counts, most frequent first. */
  byReason: Array<{ reason: string; count: number }>;
  /** The first few failures, for a table. */
  examples: Array<{ imageId: string; url: string; reason: string }>;
}

/** Read `failures.csv` of an output folder; undefined when the stage wrote none. */
export async function readFailures(dir: string): Promise<FailureSummary | undefined> {
  const file = await findFile(dir, /^failures\.csv$/i);
  const t = file && (await readCsv(file));
  if (!t) return undefined;
  const reasonCol = columnOf(t, 'reason', 'error');
  const idCol = columnOf(t, 'imageid', 'image_id', 'id');
  const urlCol = columnOf(t, 'url');
  const counts = new Map<string, number>();
  for (const r of t.rows) {
    const reason = (reasonCol >= 0 ? r[reasonCol] : undefined)?.trim() || 'unknown';
    counts.set(reason, (counts.get(reason) ?? 0) + 1);
  }
  return {
    total: t.rows.length,
    byReason: [...counts]
      .map(([reason, count]) => ({ reason, count }))
      .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason)),
    examples: t.rows.slice(0, 12).map((r) => ({
      imageId: (idCol >= 0 ? r[idCol] : undefined) ?? '',
      url: (urlCol >= 0 ? r[urlCol] : undefined) ?? '',
      reason: (reasonCol >= 0 ? r[reasonCol] : undefined) ?? '',
    })),
  };
}
