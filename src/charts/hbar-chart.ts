/**
 * Horizontal bars, one row per item, the value written at the bar's end: fetch failures by
 * reason, single models vs ensembles, a metric across experiment runs.
 */
import {
  axisTitle,
  clip,
  escapeXml,
  legend,
  niceTicks,
  r1,
  svgFrame,
  textWidth,
  xGrid,
  type FrameOptions,
  type LegendItem,
} from './svg.js';
import { formatNumber } from '../util/format.js';

export interface HBarRow {
  label: string;
  value: number;
  color: string;
  /** Extra tooltip text. */
  note?: string;
}

export interface HBarSpec {
  label: string;
  xLabel: string;
  rows: HBarRow[];
  /** What the colours mean. */
  legend: LegendItem[];
  format?: (v: number) => string;
  /** Start the axis at the smallest value's tick instead of 0 (close scores). */
  zoom?: boolean;
  /** Values are counts: ticks on whole numbers. */
  integer?: boolean;
  width?: number;
  /** A standalone `.svg` file with this title (see svgFrame). */
  standalone?: FrameOptions['standalone'];
}

/** Draw the chart. */
export function hbarChart(spec: HBarSpec): string {
  const width = spec.width ?? 640;
  const fmt = spec.format ?? formatNumber;
  const labelW = Math.min(240, Math.max(60, ...spec.rows.map((r) => textWidth(clip(r.label, 36)))) + 12);
  const left = labelW + 8;
  const right = width - 64;
  const leg = legend(spec.legend, left, 16, right - left);
  const top = 16 + leg.height + 6;
  const rowH = 24;
  const bottom = top + rowH * Math.max(1, spec.rows.length);
  const height = bottom + 44;

  const values = spec.rows.map((r) => r.value).filter(Number.isFinite);
  const lo = values.length ? Math.min(...values) : 0;
  const hi = values.length ? Math.max(...values) : 1;
  // Zoomed axes still start at a round number and leave the smallest bar visible.
  const xt =
    spec.zoom && lo > 0 && hi > lo
      ? niceTicks(Math.max(0, lo - (hi - lo) * 0.5 - 1e-9), hi, 5)
      : niceTicks(0, hi, 5, spec.integer);
  const x0 = xt[0] as number;
  const x1 = xt[xt.length - 1] as number;
  const px = (v: number) => left + ((v - x0) / (x1 - x0 || 1)) * (right - left);

  const body: string[] = [leg.svg, ...xGrid(xt, px, top, bottom)];
  spec.rows.forEach((r, i) => {
    const y = top + i * rowH;
    const v = Number.isFinite(r.value) ? r.value : x0;
    const w = Math.max(1, px(Math.max(v, x0)) - left);
    const tip = `${r.label}: ${fmt(r.value)}${r.note ? ` (${r.note})` : ''}`;
    body.push(
      `<text class="row-label" x="${left - 8}" y="${y + rowH / 2 + 4}" text-anchor="end">${escapeXml(clip(r.label, 36))}<title>${escapeXml(r.label)}</title></text>`,
    );
    body.push(
      `<rect class="mark" x="${left}" y="${y + 4}" width="${r1(w)}" height="${rowH - 8}" rx="2" fill="${r.color}"><title>${escapeXml(tip)}</title></rect>`,
    );
    body.push(`<text class="value" x="${r1(left + w + 5)}" y="${y + rowH / 2 + 4}">${escapeXml(fmt(r.value))}</text>`);
  });
  body.push(`<line class="axis" x1="${left}" x2="${left}" y1="${top}" y2="${bottom}"/>`);
  body.push(axisTitle('x', spec.xLabel, (left + right) / 2, height - 8));
  return svgFrame(width, height, spec.label, body, { standalone: spec.standalone });
}
