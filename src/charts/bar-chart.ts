/**
 * Vertical grouped bars (one group per category, one bar per series), with optional per-category
 * markers: label distribution train beside validation, per-label F1 with thresholds. Many
 * categories make a wide chart that scrolls in its figure rather than shrinking to slivers.
 */
import {
  axisTitle,
  clip,
  colorAt,
  escapeXml,
  legend,
  niceTicks,
  r1,
  svgFrame,
  yGrid,
  type FrameOptions,
  type LegendItem,
} from './svg.js';
import { formatNumber } from '../util/format.js';

export interface BarSeries {
  name: string;
  values: number[];
  color?: string;
}

export interface GroupedBarSpec {
  label: string;
  yLabel: string;
  /** Category names along the x axis (shown when there is room, always in each bar's tooltip). */
  categories: string[];
  series: BarSeries[];
  /** A short tick drawn across each category (e.g. its threshold). */
  markers?: { name: string; values: number[]; color?: string };
  /** Format of values in tooltips (default: formatNumber). */
  format?: (v: number) => string;
  /** Lower bound of the y axis is 0; the upper bound is at least this (e.g. 1 for F1). */
  yMaxAtLeast?: number;
  height?: number;
  /** Width the chart should fill when categories are few. */
  minWidth?: number;
  /** A standalone `.svg` file with this title (see svgFrame). */
  standalone?: FrameOptions['standalone'];
}

/** Draw the chart. */
export function groupedBarChart(spec: GroupedBarSpec): string {
  const n = Math.max(1, spec.categories.length);
  const k = Math.max(1, spec.series.length);
  const fmt = spec.format ?? formatNumber;
  const left = 62;
  // A group is k bars plus a gap. Few categories: a compact chart. More than fit there with a
  // readable label: up to a laptop-wide chart. Beyond that, 1.5 px bars, then it scrolls.
  let avail = Math.max(spec.minWidth ?? 560, 560) - left - 18;
  if (avail / n < 11) avail = 960;
  const slot = Math.max(k * 1.5 + 0.5, Math.min(48, avail / n));
  const showLabels = slot >= 11;
  const longest = showLabels ? Math.max(0, ...spec.categories.map((c) => Math.min(18, c.length))) : 0;
  // Labels run down and to the right at 45°: room below the axis and past the last bar.
  const labelSpace = showLabels ? Math.min(90, 12 + longest * 4.4) : 14;
  const right = left + slot * n;
  const width = right + Math.max(18, labelSpace - slot / 2);
  const height = (spec.height ?? 300) + labelSpace;

  const items: LegendItem[] = spec.series.map((s, i) => ({ name: s.name, color: s.color ?? colorAt(i), kind: 'box' }));
  if (spec.markers) items.push({ name: spec.markers.name, color: spec.markers.color ?? '#222', kind: 'tick' });
  const leg = legend(items, left, 16, Math.min(right, 900) - left);
  const top = 16 + leg.height + 4;
  const bottom = height - labelSpace - (showLabels ? 4 : 24);

  const values = [...spec.series.flatMap((s) => s.values), ...(spec.markers?.values ?? [])].filter(Number.isFinite);
  const yt = niceTicks(0, Math.max(spec.yMaxAtLeast ?? 0, values.length ? Math.max(...values) : 1), 5);
  const y1 = yt[yt.length - 1] as number;
  const py = (v: number) => bottom - (Math.max(0, v) / (y1 || 1)) * (bottom - top);

  const body: string[] = [leg.svg, ...yGrid(yt, py, left, right)];
  const barW = Math.max(1, (slot - Math.min(2, slot / 4)) / k);
  const inner = k * barW;
  spec.categories.forEach((cat, c) => {
    const gx = left + c * slot + (slot - inner) / 2;
    spec.series.forEach((s, i) => {
      const v = s.values[c];
      if (v === undefined || !Number.isFinite(v)) return;
      const y = py(v);
      // A zero still gets a hairline so the category is visibly present.
      const h = Math.max(0.8, bottom - y);
      body.push(
        `<rect class="mark" x="${r1(gx + i * barW)}" y="${r1(bottom - h)}" width="${r1(Math.max(1, barW - (k > 1 ? 0.6 : 0)))}" height="${r1(h)}" fill="${s.color ?? colorAt(i)}">` +
          `<title>${escapeXml(cat)} · ${escapeXml(s.name)}: ${escapeXml(fmt(v))}</title></rect>`,
      );
    });
    const m = spec.markers?.values[c];
    if (spec.markers && m !== undefined && Number.isFinite(m)) {
      const y = r1(py(m));
      body.push(
        `<line class="mark" x1="${r1(gx - 1)}" x2="${r1(gx + inner + 1)}" y1="${y}" y2="${y}" stroke="${spec.markers.color ?? '#222'}" stroke-width="2.5">` +
          `<title>${escapeXml(cat)} · ${escapeXml(spec.markers.name)}: ${escapeXml(fmt(m))}</title></line>`,
      );
    }
    if (showLabels) {
      const cx = r1(left + c * slot + slot / 2);
      body.push(
        `<text class="tick" transform="translate(${cx} ${bottom + 8}) rotate(45)" text-anchor="start">${escapeXml(clip(cat, 18))}</text>`,
      );
    }
  });
  body.push(`<line class="axis" x1="${left}" x2="${r1(right)}" y1="${r1(bottom)}" y2="${r1(bottom)}"/>`);
  body.push(axisTitle('y', spec.yLabel, (top + bottom) / 2, 16));
  if (!showLabels)
    body.push(
      `<text class="axis-title" x="${left}" y="${r1(bottom + 18)}">${n} categories, too many to name here: hover a bar for its name</text>`,
    );
  return svgFrame(width, height, spec.label, body, { wide: width > 1100, standalone: spec.standalone });
}
