/**
 * Small self-contained SVG charts (no fonts or scripts to fetch), for pictures stages write next
 * to their outputs: a line chart (PSO convergence) and a bar chart (per-label F1).
 */

export interface LineSeries {
  name: string;
  points: Array<[number, number]>;
}

export interface LineChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  width?: number;
  height?: number;
}

export interface Bar {
  label: string;
  value: number;
  /** Optional second value drawn as a thin marker (e.g. the threshold). */
  marker?: number;
}

export interface BarChartSpec {
  title: string;
  yLabel: string;
  bars: Bar[];
  /** Legend text for the bars and the markers. */
  barName?: string;
  markerName?: string;
  width?: number;
  height?: number;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

/** Escape text for SVG/XML content and attributes. */
export function escapeXml(s: string): string {
  return s.replace(
    /[<>&"']/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

const fmt = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(Math.abs(v) < 1 ? 3 : 1));
const r1 = (v: number) => Math.round(v * 10) / 10;

/** Padded [min, max] for an axis (never zero-width). */
function extent(values: number[]): [number, number] {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return [0, 1];
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  if (hi === lo) {
    lo -= 0.5;
    hi += 0.5;
  }
  const pad = (hi - lo) * 0.05;
  return [lo - pad, hi + pad];
}

function frame(title: string, width: number, height: number, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="18" text-anchor="middle" font-size="14">${escapeXml(title)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

function yAxis(
  lo: number,
  hi: number,
  left: number,
  top: number,
  plotW: number,
  plotH: number,
  label: string,
): string[] {
  const out: string[] = [];
  const y = (v: number) => top + plotH - ((v - lo) / (hi - lo)) * plotH;
  for (let i = 0; i <= 4; i++) {
    const v = lo + ((hi - lo) * i) / 4;
    out.push(`<line x1="${left}" x2="${left + plotW}" y1="${r1(y(v))}" y2="${r1(y(v))}" stroke="#ddd"/>`);
    out.push(`<text x="${left - 4}" y="${r1(y(v) + 4)}" text-anchor="end">${fmt(v)}</text>`);
  }
  out.push(
    `<text transform="translate(14 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(label)}</text>`,
  );
  out.push(`<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  return out;
}

/** Legend entries laid out in rows under the title; returns the SVG and the height used. */
function legend(
  items: Array<{ name: string; color: string }>,
  x: number,
  y: number,
  width: number,
): { svg: string[]; height: number } {
  const svg: string[] = [];
  let cx = x;
  let cy = y;
  for (const it of items) {
    const w = 28 + it.name.length * 6.6;
    if (cx > x && cx + w > width - 10) {
      cx = x;
      cy += 16;
    }
    svg.push(`<rect x="${r1(cx)}" y="${cy - 9}" width="12" height="10" fill="${it.color}"/>`);
    svg.push(`<text x="${r1(cx + 16)}" y="${cy}">${escapeXml(it.name)}</text>`);
    cx += w;
  }
  return { svg, height: cy - y + 16 };
}

/** A line chart of one or more series. */
export function lineChart(spec: LineChartSpec): string {
  const width = spec.width ?? 640;
  const height = spec.height ?? 360;
  const left = 60;
  const leg = legend(
    spec.series.map((s, i) => ({ name: s.name, color: COLORS[i % COLORS.length] as string })),
    left,
    38,
    width,
  );
  const top = 30 + leg.height;
  const plotW = width - left - 20;
  const plotH = height - top - 50;
  const xs = spec.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = spec.series.flatMap((s) => s.points.map((p) => p[1]));
  // The x axis spans the data exactly (rounds, iterations); only y gets headroom.
  const x0 = xs.length > 0 ? Math.min(...xs) : 0;
  const x1 = xs.length > 0 && Math.max(...xs) > x0 ? Math.max(...xs) : x0 + 1;
  const [y0, y1] = extent(ys);
  const px = (v: number) => r1(left + ((v - x0) / (x1 - x0)) * plotW);
  const py = (v: number) => r1(top + plotH - ((v - y0) / (y1 - y0)) * plotH);
  const body = [...leg.svg, ...yAxis(y0, y1, left, top, plotW, plotH, spec.yLabel)];
  const integral = xs.every(Number.isInteger);
  for (let i = 0; i <= 4; i++) {
    const v = integral ? Math.round(x0 + ((x1 - x0) * i) / 4) : x0 + ((x1 - x0) * i) / 4;
    body.push(`<text x="${px(v)}" y="${top + plotH + 14}" text-anchor="middle">${fmt(v)}</text>`);
  }
  body.push(`<text x="${left + plotW / 2}" y="${height - 20}" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`);
  spec.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length] as string;
    const pts = s.points
      .filter((p) => Number.isFinite(p[1]))
      .map((p) => `${px(p[0])},${py(p[1])}`)
      .join(' ');
    body.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts}"><title>${escapeXml(s.name)}</title></polyline>`,
    );
  });
  return frame(spec.title, width, height, body);
}

/** A bar chart (values in [0, 1] or any range), with optional per-bar markers. */
export function barChart(spec: BarChartSpec): string {
  const n = Math.max(1, spec.bars.length);
  const width = spec.width ?? Math.max(480, Math.min(2400, 70 + n * 8));
  const height = spec.height ?? 360;
  const left = 60;
  const items = [{ name: spec.barName ?? spec.yLabel, color: COLORS[0] as string }];
  if (spec.markerName) items.push({ name: spec.markerName, color: COLORS[1] as string });
  const leg = legend(items, left, 38, width);
  const top = 30 + leg.height;
  const plotW = width - left - 20;
  const plotH = height - top - 70;
  const values = spec.bars.flatMap((b) => (b.marker === undefined ? [b.value] : [b.value, b.marker]));
  const lo = Math.min(0, ...values.filter(Number.isFinite));
  const hi = Math.max(1, ...values.filter(Number.isFinite));
  const py = (v: number) => r1(top + plotH - ((v - lo) / (hi - lo)) * plotH);
  const body = [...leg.svg, ...yAxis(lo, hi, left, top, plotW, plotH, spec.yLabel)];
  const slot = plotW / n;
  const labelEvery = Math.max(1, Math.ceil(n / 60));
  spec.bars.forEach((b, i) => {
    const x = r1(left + i * slot + slot * 0.1);
    const w = r1(Math.max(1, slot * 0.8));
    const v = Number.isFinite(b.value) ? b.value : 0;
    const y = py(Math.max(v, lo));
    body.push(
      `<rect x="${x}" y="${y}" width="${w}" height="${r1(py(lo) - y)}" fill="${COLORS[0]}"><title>${escapeXml(b.label)}: ${fmt(v)}</title></rect>`,
    );
    if (b.marker !== undefined && Number.isFinite(b.marker)) {
      body.push(
        `<line x1="${x}" x2="${r1(x + w)}" y1="${py(b.marker)}" y2="${py(b.marker)}" stroke="${COLORS[1]}" stroke-width="2"/>`,
      );
    }
    if (i % labelEvery === 0) {
      const cx = r1(x + w / 2);
      body.push(
        `<text transform="translate(${cx} ${top + plotH + 8}) rotate(60)" font-size="9">${escapeXml(b.label)}</text>`,
      );
    }
  });
  return frame(spec.title, width, height, body);
}
