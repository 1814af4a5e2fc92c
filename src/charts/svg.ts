/**
 * The one SVG chart kit (line, grouped bar and horizontal bar charts are built on it): palette,
 * nice axis ticks, a wrapping legend, the XML escaper and the `<svg>` frame. A chart is either
 * inline in the report page (its text styled by the page's CSS) or a standalone file a stage
 * writes beside its outputs (the frame then carries a title, a white background and its own
 * stylesheet, and needs no fonts or scripts from anywhere). Every data mark carries class `mark`
 * (the browser test counts them to prove a chart is drawn).
 */

/** Escape text for XML (SVG and HTML) content and attributes. */
export function escapeXml(s: string): string {
  return s.replace(
    /[<>&"']/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

/** Series colours (Tableau 10: distinct, readable on white, fine for most colour-blind readers). */
export const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#59a14f',
  '#e15759',
  '#76b7b2',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
] as const;

/** The colour of series `i`. */
export function colorAt(i: number): string {
  return PALETTE[i % PALETTE.length] as string;
}

/** Round for SVG coordinates: one decimal keeps the file small and lines crisp enough. */
export const r1 = (v: number): number => Math.round(v * 10) / 10;

/** Approximate rendered width of `s` at `size` px in a sans-serif font (for layout, not exact). */
export function textWidth(s: string, size = 12): number {
  return s.length * size * 0.58;
}

/** Shorten `s` to at most `max` characters with an ellipsis. */
export function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, Math.max(1, max - 1))}…`;
}

/** Evenly spaced "nice" ticks (steps of 1, 2 or 5 × 10^k; whole steps for counts) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5, integer = false): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  if (hi < lo) [lo, hi] = [hi, lo];
  // Equal (or equal but for float noise) ends: widen around the value.
  if (hi - lo <= Math.max(Math.abs(lo), Math.abs(hi)) * 1e-9) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const nice = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  const step = integer ? Math.max(1, Math.round(nice)) : nice;
  const first = Math.floor(lo / step + 1e-9) * step;
  const last = Math.ceil(hi / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let v = first; v <= last + step / 2; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/** Format a tick value with as many decimals as the tick step needs. */
export function formatTick(v: number, ticks: number[]): string {
  const step = ticks.length > 1 ? Math.abs((ticks[1] as number) - (ticks[0] as number)) : 1;
  const decimals = Math.min(6, Math.max(0, -Math.floor(Math.log10(step) + 1e-9)));
  return v.toFixed(decimals);
}

/** A legend entry: a line swatch (series of a line chart) or a filled square (bars, states). */
export interface LegendItem {
  name: string;
  color: string;
  kind?: 'line' | 'box' | 'dashed' | 'tick';
}

/**
 * A legend laid out left to right from (x, y), wrapping within `maxWidth`.
 * Returns the SVG and the height it takes, so the plot can start below it.
 */
export function legend(items: LegendItem[], x: number, y: number, maxWidth: number): { svg: string; height: number } {
  const parts: string[] = [];
  let cx = x;
  let cy = y;
  for (const it of items) {
    const w = 22 + textWidth(it.name) + 18;
    if (cx > x && cx + w > x + maxWidth) {
      cx = x;
      cy += 18;
    }
    const mid = cy - 4;
    switch (it.kind ?? 'box') {
      case 'line':
        parts.push(
          `<line x1="${r1(cx)}" x2="${r1(cx + 16)}" y1="${mid}" y2="${mid}" stroke="${it.color}" stroke-width="2.5"/><circle cx="${r1(cx + 8)}" cy="${mid}" r="2.5" fill="${it.color}"/>`,
        );
        break;
      case 'dashed':
        parts.push(
          `<line x1="${r1(cx)}" x2="${r1(cx + 16)}" y1="${mid}" y2="${mid}" stroke="${it.color}" stroke-width="2" stroke-dasharray="4 3"/>`,
        );
        break;
      case 'tick':
        parts.push(
          `<line x1="${r1(cx + 2)}" x2="${r1(cx + 14)}" y1="${mid}" y2="${mid}" stroke="${it.color}" stroke-width="3"/>`,
        );
        break;
      case 'box':
        parts.push(`<rect x="${r1(cx + 2)}" y="${mid - 5}" width="12" height="10" rx="2" fill="${it.color}"/>`);
        break;
    }
    parts.push(`<text x="${r1(cx + 22)}" y="${cy}" class="legend">${escapeXml(it.name)}</text>`);
    cx += w;
  }
  return { svg: `<g class="legend">${parts.join('')}</g>`, height: items.length === 0 ? 0 : cy - y + 18 };
}

/** How a chart is framed: inline in the report, or as a standalone file with a title. */
export interface FrameOptions {
  /** Keep the natural width and scroll inside the report's figure instead of shrinking. */
  wide?: boolean;
  /** A standalone `.svg` file: this title above the chart, a white background, its own styles. */
  standalone?: { title: string };
}

/** The report's chart styles (svg.chart-svg rules of report/style.ts), carried by standalone files. */
const STANDALONE_CSS =
  'text{font-family:sans-serif;font-size:12px;fill:#3d444d}text.title{font-size:14px;fill:#1f2328}' +
  'text.tick{fill:#6b7380;font-size:11px}text.axis-title{fill:#4b535d}text.value{font-size:11px}' +
  '.grid{stroke:#eceef1}.axis{stroke:#9aa1aa}.frame{fill:none;stroke:#d5d9de}';

/** Height of a standalone file's title band. */
const TITLE_BAND = 28;

/**
 * Open an `<svg>`: a viewBox so it scales down on narrow screens, and an accessible label.
 * Standalone files get a title band above the chart.
 */
export function svgFrame(
  width: number,
  height: number,
  label: string,
  body: string[],
  opts: FrameOptions = {},
): string {
  const w = Math.round(width);
  const cls = `chart-svg${opts.wide ? ' wide' : ''}`;
  if (!opts.standalone) {
    const h = Math.round(height);
    return `<svg xmlns="http://www.w3.org/2000/svg" class="${cls}" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="${escapeXml(label)}">${body.join('')}</svg>`;
  }
  const h = Math.round(height + TITLE_BAND);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" class="${cls}" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="${escapeXml(label)}">`,
    `<style>${STANDALONE_CSS}</style>`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text class="title" x="${r1(w / 2)}" y="19" text-anchor="middle">${escapeXml(opts.standalone.title)}</text>`,
    `<g transform="translate(0 ${TITLE_BAND})">${body.join('')}</g>`,
    '</svg>',
    '',
  ].join('\n');
}

/** Horizontal grid lines and tick labels of a value axis on the left of a plot. */
export function yGrid(ticks: number[], y: (v: number) => number, left: number, right: number): string[] {
  return ticks.map(
    (t) =>
      `<line class="grid" x1="${left}" x2="${right}" y1="${r1(y(t))}" y2="${r1(y(t))}"/>` +
      `<text class="tick" x="${left - 6}" y="${r1(y(t) + 4)}" text-anchor="end">${formatTick(t, ticks)}</text>`,
  );
}

/** Vertical grid lines and tick labels of a value axis along the bottom of a plot. */
export function xGrid(
  ticks: number[],
  x: (v: number) => number,
  top: number,
  bottom: number,
  format: (v: number) => string = (v) => formatTick(v, ticks),
): string[] {
  return ticks.map(
    (t) =>
      `<line class="grid" x1="${r1(x(t))}" x2="${r1(x(t))}" y1="${top}" y2="${bottom}"/>` +
      `<text class="tick" x="${r1(x(t))}" y="${bottom + 16}" text-anchor="middle">${format(t)}</text>`,
  );
}

/** An axis title: rotated on the left (`y`) or centred under the plot (`x`). */
export function axisTitle(kind: 'x' | 'y', text: string, at: number, pos: number): string {
  return kind === 'y'
    ? `<text class="axis-title" transform="translate(${pos} ${r1(at)}) rotate(-90)" text-anchor="middle">${escapeXml(text)}</text>`
    : `<text class="axis-title" x="${r1(at)}" y="${pos}" text-anchor="middle">${escapeXml(text)}</text>`;
}
