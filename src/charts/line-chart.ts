/** A line chart: learning curves, PSO convergence. Legend above the plot, nice ticks. */
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
  type FrameOptions,
  type LegendItem,
} from './svg.js';
import { formatNumber } from '../util/format.js';

export interface LineSeries {
  name: string;
  points: Array<[number, number]>;
  color?: string;
  /** Drawn dashed (reference lines such as "best single model"). */
  dashed?: boolean;
}

export interface LineChartSpec {
  /** Accessible label of the whole chart. */
  label: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  /** Ticks on whole numbers only (epochs, rounds). */
  integerX?: boolean;
  /** Labelled vertical lines (e.g. where a training phase starts), drawn half a step before x. */
  vlines?: Array<{ x: number; label: string }>;
  width?: number;
  height?: number;
  /** A standalone `.svg` file with this title (see svgFrame). */
  standalone?: FrameOptions['standalone'];
}

/** Draw the chart; series without finite points are left out of the plot but kept in the legend. */
export function lineChart(spec: LineChartSpec): string {
  const width = spec.width ?? 560;
  const height = spec.height ?? 300;
  const left = 62;
  const right = width - 18;
  const colored = spec.series.map((s, i) => ({
    ...s,
    color: s.color ?? colorAt(i),
    points: s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)),
  }));
  const items: LegendItem[] = colored.map((s) => ({
    name: s.name,
    color: s.color,
    kind: s.dashed ? 'dashed' : 'line',
  }));
  const leg = legend(items, left, 16, right - left);
  const top = 16 + leg.height + 4;
  const bottom = height - 44;

  const xs = colored.flatMap((s) => s.points.map((p) => p[0]));
  const ys = colored.flatMap((s) => s.points.map((p) => p[1]));
  const xMin = xs.length ? Math.min(...xs) : 0;
  const xMax = xs.length ? Math.max(...xs) : 1;
  let xt = niceTicks(xMin, xMax, Math.min(8, Math.max(2, xMax - xMin)));
  if (spec.integerX) {
    xt = xt.filter((t) => Number.isInteger(t));
    if (xt.length < 2)
      xt = [Math.floor(xMin), Math.ceil(xMax) === Math.floor(xMin) ? Math.floor(xMin) + 1 : Math.ceil(xMax)];
  }
  const yt = niceTicks(ys.length ? Math.min(...ys) : 0, ys.length ? Math.max(...ys) : 1, 5);
  const [x0, x1] = [Math.min(xt[0] as number, xMin), Math.max(xt[xt.length - 1] as number, xMax)];
  const [y0, y1] = [yt[0] as number, yt[yt.length - 1] as number];
  const px = (v: number) => left + ((v - x0) / (x1 - x0 || 1)) * (right - left);
  const py = (v: number) => bottom - ((v - y0) / (y1 - y0 || 1)) * (bottom - top);

  const body: string[] = [leg.svg, ...yGrid(yt, py, left, right), ...xGrid(xt, px, top, bottom)];
  body.push(`<rect class="frame" x="${left}" y="${top}" width="${r1(right - left)}" height="${r1(bottom - top)}"/>`);
  body.push(
    axisTitle('y', spec.yLabel, (top + bottom) / 2, 16),
    axisTitle('x', spec.xLabel, (left + right) / 2, height - 8),
  );
  for (const v of spec.vlines ?? []) {
    const x = r1(px(v.x - 0.5));
    body.push(
      `<line x1="${x}" x2="${x}" y1="${top}" y2="${bottom}" stroke="#8b949e" stroke-dasharray="3 3"/><text class="tick" x="${x + 4}" y="${top + 12}">${escapeXml(v.label)}</text>`,
    );
  }
  for (const s of colored) {
    if (s.points.length === 0) continue;
    const pts = s.points.map(([x, y]) => `${r1(px(x))},${r1(py(y))}`).join(' ');
    const dash = s.dashed ? ' stroke-dasharray="5 4"' : '';
    body.push(
      `<polyline class="mark" fill="none" stroke="${s.color}" stroke-width="2.2" stroke-linejoin="round"${dash} points="${pts}"><title>${escapeXml(s.name)}</title></polyline>`,
    );
    if (!s.dashed && s.points.length <= 60) {
      for (const [x, y] of s.points) {
        body.push(
          `<circle class="mark" cx="${r1(px(x))}" cy="${r1(py(y))}" r="2.8" fill="${s.color}"><title>${escapeXml(s.name)} at ${formatNumber(x)}: ${formatNumber(y)}</title></circle>`,
        );
      }
    }
  }
  return svgFrame(width, height, spec.label, body, { standalone: spec.standalone });
}
