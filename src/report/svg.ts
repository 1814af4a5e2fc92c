/**
 * The report's tiny SVG kit: palette, nice axis ticks, number formats, a wrapping legend and the
 * `<svg>` frame. Charts are inline in the HTML page, so text takes the page's font through CSS;
 * every data mark carries class `mark` (the browser test counts them to prove a chart is drawn).
 */
import { escapeXml } from '../ml/svg-charts.js';

export { escapeXml };

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

/** A number for people: integers as is, small values to 4 significant decimals. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(a >= 1 ? 2 : 4);
}

/** Seconds as `0.4 s`, `12 s`, `3 min 05 s`, `1 h 02 min`. */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 60) return `${Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(Math.round(s % 60)).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
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

/**
 * Open an inline `<svg>`: a viewBox so it scales down on narrow screens, and an accessible label.
 * `wide` charts keep their natural width and scroll inside their figure instead of shrinking.
 */
export function svgFrame(width: number, height: number, label: string, body: string[], wide = false): string {
  const w = Math.round(width);
  const h = Math.round(height);
  return `<svg xmlns="http://www.w3.org/2000/svg" class="chart-svg${wide ? ' wide' : ''}" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="${escapeXml(label)}">${body.join('')}</svg>`;
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
