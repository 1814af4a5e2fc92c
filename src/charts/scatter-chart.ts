/**
 * A scatter chart: one point per experiment, a swept param along x and a metric up y (so a
 * sweep shows which way the metric moves with the param). Values spanning more than two
 * decades, all positive (learning rates), go on a log axis.
 */
import {
  axisTitle,
  colorAt,
  escapeXml,
  legend,
  niceTicks,
  r1,
  svgFrame,
  xGrid,
  yGrid,
  type LegendItem,
} from './svg.js';
import { formatNumber } from '../util/format.js';

export interface ScatterPoint {
  x: number;
  y: number;
  /** Hover text. */
  label: string;
  /** Legend group (series). */
  group: string;
}

export interface ScatterSpec {
  label: string;
  xLabel: string;
  yLabel: string;
  points: ScatterPoint[];
  width?: number;
  height?: number;
}

/** Whether x should be on a log axis. */
function logScale(xs: number[]): boolean {
  return xs.length > 1 && xs.every((x) => x > 0) && Math.max(...xs) / Math.min(...xs) >= 100;
}

export function scatterChart(spec: ScatterSpec): string {
  const width = spec.width ?? 420;
  const height = spec.height ?? 280;
  const left = 62;
  const right = width - 18;
  const points = spec.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const groups = [...new Set(points.map((p) => p.group))];
  const colorOf = (g: string) => colorAt(groups.indexOf(g));
  const items: LegendItem[] = groups.map((g) => ({ name: g, color: colorOf(g), kind: 'box' }));
  const leg = legend(items, left, 16, right - left);
  const top = 16 + leg.height + 4;
  const bottom = height - 44;

  const log = logScale(points.map((p) => p.x));
  const tx = (v: number) => (log ? Math.log10(v) : v);
  const xs = points.map((p) => tx(p.x));
  const ys = points.map((p) => p.y);
  const xt = niceTicks(xs.length ? Math.min(...xs) : 0, xs.length ? Math.max(...xs) : 1, 5, log);
  const yt = niceTicks(ys.length ? Math.min(...ys) : 0, ys.length ? Math.max(...ys) : 1, 5);
  const [x0, x1] = [xt[0] as number, xt[xt.length - 1] as number];
  const [y0, y1] = [yt[0] as number, yt[yt.length - 1] as number];
  // Half a tick of room at both ends, so points at the extremes are not cut by the frame.
  const pad = (x1 - x0) * 0.05;
  const px = (v: number) => left + ((v - x0 + pad) / (x1 - x0 + 2 * pad || 1)) * (right - left);
  const py = (v: number) => bottom - ((v - y0) / (y1 - y0 || 1)) * (bottom - top);

  const body: string[] = [
    leg.svg,
    ...yGrid(yt, py, left, right),
    ...xGrid(xt, px, top, bottom, (t) => (log ? formatNumber(10 ** t) : formatNumber(t))),
    `<rect class="frame" x="${left}" y="${top}" width="${r1(right - left)}" height="${r1(bottom - top)}"/>`,
    axisTitle('y', spec.yLabel, (top + bottom) / 2, 16),
    axisTitle('x', `${spec.xLabel}${log ? ' (log scale)' : ''}`, (left + right) / 2, height - 8),
  ];
  for (const p of points)
    body.push(
      `<circle class="mark" cx="${r1(px(tx(p.x)))}" cy="${r1(py(p.y))}" r="4.5" fill="${colorOf(p.group)}" fill-opacity="0.85"><title>${escapeXml(`${p.label}: ${spec.xLabel} ${formatNumber(p.x)}, ${spec.yLabel} ${formatNumber(p.y)}`)}</title></circle>`,
    );
  return svgFrame(width, height, spec.label, body);
}
