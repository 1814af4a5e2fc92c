/**
 * A grouped bar chart as standalone SVG (no dependencies; sharp can rasterise it to PNG): one
 * group per category, one bar per series, a y axis with round ticks and a legend. Used for label
 * frequency pictures, e.g. train beside validation.
 */
export interface BarSeries {
  name: string;
  colour: string;
  values: readonly number[];
}

export interface BarChart {
  title: string;
  yLabel: string;
  categories: readonly string[];
  series: readonly BarSeries[];
  /** Format a y value for ticks (default: as is). */
  format?: (v: number) => string;
  width?: number;
  height?: number;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A "nice" step (1, 2 or 5 times a power of ten) giving about `ticks` intervals up to `max`. */
function niceStep(max: number, ticks: number): number {
  const raw = max / ticks;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const m = raw / pow;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * pow;
}

const num = (v: number): string => (Math.round(v * 10) / 10).toString();

/** Render the chart to SVG text. */
export function barChartSvg(chart: BarChart): string {
  const n = chart.categories.length;
  const width = chart.width ?? Math.max(640, Math.min(2400, 90 + n * (6 + 4 * chart.series.length)));
  const height = chart.height ?? 420;
  const left = 64;
  const right = 16;
  const top = 48;
  const bottom = 96;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const fmt = chart.format ?? ((v: number) => String(v));
  let max = 0;
  for (const s of chart.series) for (const v of s.values) max = Math.max(max, v);
  if (!(max > 0)) max = 1;
  const step = niceStep(max, 5);
  const yMax = Math.ceil(max / step) * step;
  const y = (v: number): number => top + plotH - (v / yMax) * plotH;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
  );
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${esc(chart.title)}</text>`);
  for (let t = 0; t <= yMax + step / 2; t += step) {
    const yy = num(y(t));
    out.push(`<line x1="${left}" x2="${width - right}" y1="${yy}" y2="${yy}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${left - 6}" y="${yy}" dy="4" text-anchor="end">${esc(fmt(t))}</text>`);
  }
  out.push(
    `<text transform="translate(14 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(chart.yLabel)}</text>`,
  );
  const groupW = plotW / Math.max(1, n);
  const barW = (groupW * 0.8) / Math.max(1, chart.series.length);
  // Label every category when they fit, else every k-th.
  const every = Math.max(1, Math.ceil(n / Math.floor(plotW / 12)));
  for (let c = 0; c < n; c++) {
    const x0 = left + c * groupW + groupW * 0.1;
    chart.series.forEach((s, si) => {
      const v = s.values[c] ?? 0;
      if (v <= 0) return;
      out.push(
        `<rect x="${num(x0 + si * barW)}" y="${num(y(v))}" width="${num(Math.max(0.5, barW))}" height="${num(top + plotH - y(v))}" fill="${s.colour}"/>`,
      );
    });
    if (c % every === 0) {
      const cx = num(left + (c + 0.5) * groupW);
      out.push(
        `<text transform="translate(${cx} ${top + plotH + 8}) rotate(-60)" text-anchor="end" font-size="9">${esc(chart.categories[c] ?? '')}</text>`,
      );
    }
  }
  out.push(`<line x1="${left}" x2="${width - right}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`);
  chart.series.forEach((s, si) => {
    const lx = width - right - 150;
    const ly = top + 4 + si * 16;
    out.push(`<rect x="${lx}" y="${ly}" width="12" height="12" fill="${s.colour}"/>`);
    out.push(`<text x="${lx + 18}" y="${ly + 10}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
