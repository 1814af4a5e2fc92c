/**
 * Per-label F1 and thresholds, from the threshold stage's `labels.csv` (per label: threshold,
 * support, F1), else thresholds alone from `thresholds.json`. Most frequent labels first, as in
 * the label distribution above.
 */
import { join } from 'node:path';
import { groupedBarChart } from '../charts/bar-chart.js';
import { columnOf, numberAt } from '../formats/csv.js';
import { figure, table } from './html.js';
import { withOutput, type RenderContext } from './report-data.js';
import { PALETTE } from '../charts/svg.js';
import { markPictures, readCsv, readJson } from './stage-files.js';

/** One figure (and a collapsed table) per stage with per-label thresholds. */
export async function thresholdParts(ctx: RenderContext): Promise<string[]> {
  const parts: string[] = [];
  for (const s of withOutput(ctx.data)) {
    const t = await readCsv(join(s.out, 'labels.csv'));
    const thr = t ? columnOf(t, 'threshold') : -1;
    if (t && thr >= 0 && t.rows.length > 0) {
      const id = Math.max(0, columnOf(t, 'label_id', 'labelid', 'label'));
      const f1 = columnOf(t, 'holdout_f1', 'validation_f1', 'f1');
      const support = columnOf(t, 'validation_support', 'holdout_support', 'support');
      const order = t.rows
        .map((_, i) => i)
        .sort((a, b) => numberAt(t.rows[b] as string[], support) - numberAt(t.rows[a] as string[], support) || a - b);
      const rows = order.map((i) => t.rows[i] as string[]);
      await markPictures(ctx.shown, s.out, /^per[-_]label[-_]f1\./i);
      const f1Name = f1 >= 0 ? (t.header[f1] as string).replace(/_f1$/, ' F1') : 'F1';
      const svg = groupedBarChart({
        label: `per-label F1 and thresholds of ${s.spec.name}`,
        yLabel: 'F1 / threshold',
        categories: rows.map((r) => ctx.label(r[id] ?? '')),
        series: f1 >= 0 ? [{ name: f1Name, values: rows.map((r) => numberAt(r, f1)), color: PALETTE[2] }] : [],
        markers: { name: 'threshold', values: rows.map((r) => numberAt(r, thr)), color: '#1f2328' },
        format: (v) => v.toFixed(3),
        yMaxAtLeast: 1,
      });
      parts.push(
        figure(
          `per-label:${s.spec.name}`,
          `${s.spec.name}: per-label ${f1Name} and thresholds`,
          svg,
          `From ${s.spec.name}/labels.csv; labels ordered by support, most frequent first.`,
        ),
      );
      const headers = ['label', 'support', 'threshold', f1Name];
      parts.push(
        `<details><summary>table of ${rows.length} labels</summary>${table(
          headers,
          rows.map((r) => [ctx.label(r[id] ?? ''), numberAt(r, support), numberAt(r, thr), numberAt(r, f1)]),
        )}</details>`,
      );
      continue;
    }
    const j = (await readJson(join(s.out, 'thresholds.json'))) as
      { labels?: unknown; thresholds?: unknown } | undefined;
    if (
      j &&
      Array.isArray(j.labels) &&
      Array.isArray(j.thresholds) &&
      j.labels.length === j.thresholds.length &&
      j.labels.length > 0
    ) {
      const svg = groupedBarChart({
        label: `per-label thresholds of ${s.spec.name}`,
        yLabel: 'threshold',
        categories: j.labels.map((l) => ctx.label(String(l))),
        series: [{ name: 'threshold', values: j.thresholds.map(Number), color: PALETTE[4] }],
        format: (v) => v.toFixed(3),
        yMaxAtLeast: 1,
      });
      parts.push(
        figure(
          `per-label:${s.spec.name}`,
          `${s.spec.name}: per-label thresholds`,
          svg,
          `From ${s.spec.name}/thresholds.json (no labels.csv with per-label F1).`,
        ),
      );
    }
  }
  return parts;
}
