/**
 * The timeline of the last run: one row per stage, a bar from its start to its end on a shared
 * clock, so stages that ran in parallel overlap and the long bars show where the time went.
 */
import type { StageRunRecord } from '../cache/index-db.js';
import { STATE_COLORS, STATE_WORDS, type ShownState } from './report-data.js';
import { axisTitle, clip, escapeXml, legend, niceTicks, r1, svgFrame, textWidth, xGrid } from '../charts/svg.js';
import { formatDuration } from '../util/format.js';

export interface TimelineFacts {
  /** Wall-clock seconds from the first start to the last end. */
  wall: number;
  /** Sum of the seconds of stages that ran. */
  stageSeconds: number;
  /** Most stages running at the same moment. */
  peak: number;
}

/** Records with a real time span (skipped stages have none). */
function spans(records: StageRunRecord[]): StageRunRecord[] {
  return records.filter((r) => r.action !== 'skipped').sort((a, b) => a.start - b.start || a.id - b.id);
}

/** Wall time, stage time and peak parallelism of a run's stage records. */
export function timelineFacts(records: StageRunRecord[]): TimelineFacts {
  const rs = spans(records);
  if (rs.length === 0) return { wall: 0, stageSeconds: 0, peak: 0 };
  const t0 = Math.min(...rs.map((r) => r.start));
  const t1 = Math.max(...rs.map((r) => r.end));
  // Sweep over start/end events; an end at the same instant as a start closes first.
  const events = rs
    .flatMap((r) => [[r.start, 1] as const, [Math.max(r.end, r.start), -1] as const])
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let peak = 0;
  for (const [, d] of events) {
    now += d;
    peak = Math.max(peak, now);
  }
  const stageSeconds = rs.filter((r) => r.action === 'ran').reduce((t, r) => t + r.seconds, 0);
  return { wall: (t1 - t0) / 1000, stageSeconds, peak };
}

/** The timeline chart, or undefined when the run has no stage with a time span. */
export function timelineSvg(records: StageRunRecord[], runStart?: number): string | undefined {
  const rs = spans(records);
  if (rs.length === 0) return undefined;
  const t0 = Math.min(runStart ?? Number.POSITIVE_INFINITY, ...rs.map((r) => r.start));
  const tEnd = Math.max(...rs.map((r) => r.end));
  const width = 1080;
  const labelW = Math.min(220, Math.max(70, ...rs.map((r) => textWidth(clip(r.stage, 30)))) + 12);
  const left = labelW + 8;
  const right = width - 80;
  const actions = [...new Set(rs.map((r) => r.action as ShownState))];
  const leg = legend(
    actions.map((a) => ({ name: STATE_WORDS[a], color: STATE_COLORS[a] })),
    left,
    16,
    right - left,
  );
  const top = 16 + leg.height + 6;
  const rowH = 24;
  const bottom = top + rowH * rs.length;
  const height = bottom + 44;
  const xt = niceTicks(0, Math.max(0.001, (tEnd - t0) / 1000), 8);
  const x1 = xt[xt.length - 1] as number;
  const px = (sec: number) => left + (sec / (x1 || 1)) * (right - left);

  // Zebra rows first, so the grid lines stay visible on top of them.
  const zebra = rs.map((_, i) =>
    i % 2 === 1
      ? `<rect x="${left}" y="${top + i * rowH}" width="${r1(right - left)}" height="${rowH}" fill="#f7f8fa"/>`
      : '',
  );
  const body: string[] = [
    leg.svg,
    ...zebra,
    ...xGrid(xt, px, top, bottom, (v) => `${xt.some((t) => !Number.isInteger(t)) ? v.toFixed(1) : v} s`),
  ];
  rs.forEach((r, i) => {
    const y = top + i * rowH;
    const a = (r.start - t0) / 1000;
    const b = (Math.max(r.end, r.start) - t0) / 1000;
    const x = px(a);
    const w = Math.max(2, px(b) - x);
    const color = STATE_COLORS[r.action as ShownState] ?? '#888';
    const tip = `${r.stage}: ${STATE_WORDS[r.action as ShownState] ?? r.action}, ${formatDuration(r.seconds)} (from ${a.toFixed(2)} s to ${b.toFixed(2)} s)`;
    body.push(
      `<text class="row-label" x="${left - 8}" y="${y + rowH / 2 + 4}" text-anchor="end">${escapeXml(clip(r.stage, 30))}</text>`,
    );
    body.push(
      `<rect class="mark" x="${r1(x)}" y="${y + 5}" width="${r1(w)}" height="${rowH - 10}" rx="3" fill="${color}"><title>${escapeXml(tip)}</title></rect>`,
    );
    body.push(
      `<text class="value" x="${r1(x + w + 5)}" y="${y + rowH / 2 + 4}">${escapeXml(formatDuration(r.seconds))}</text>`,
    );
  });
  body.push(`<line class="axis" x1="${left}" x2="${left}" y1="${top}" y2="${bottom}"/>`);
  body.push(axisTitle('x', 'seconds since the run started', (left + right) / 2, height - 8));
  return svgFrame(width, height, 'timeline of the last run', body);
}
