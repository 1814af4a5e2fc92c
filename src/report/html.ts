/**
 * HTML building blocks of the report and the page shell. The page is one self-contained file:
 * inline CSS, inline SVG, pictures as data: URIs, no scripts; a Content-Security-Policy forbids
 * every fetch, so opening it never touches the network even if a stage's data asked it to.
 */
import { escapeXml } from '../charts/svg.js';
import { REPORT_CSS } from './style.js';

/** Escape text for HTML content and attribute values (the chart kit's XML escaper). */
export const esc = escapeXml;

/**
 * A chart in a figure. `id` names it for tests (`data-chart`); the title is the caption, above the
 * chart; an optional note below says where the numbers come from.
 */
export function figure(id: string, title: string, svg: string, note?: string): string {
  return `<figure class="chart" data-chart="${esc(id)}"><figcaption>${esc(title)}</figcaption><div class="scroll">${svg}</div>${note ? `<p class="note">${esc(note)}</p>` : ''}</figure>`;
}

/** A picture from a stage's output, embedded as a data: URI. */
export function picture(src: string, title: string, note?: string): string {
  return `<figure class="picture"><figcaption>${esc(title)}</figcaption><div class="scroll"><img src="${src}" alt="${esc(title)}"></div>${note ? `<p class="note">${esc(note)}</p>` : ''}</figure>`;
}

/** A plain statement that something is absent, said where the content would be. */
export function missing(text: string): string {
  return `<p class="missing">${esc(text)}</p>`;
}

/** A table cell: text, a number, nothing (–), or ready HTML (`num`: align it as a number). */
export type Cell = string | number | null | undefined | { html: string; num?: boolean };

/** A table; numeric cells align right in tabular figures. Cells are escaped unless given as `{ html }`. */
export function table(headers: string[], rows: Cell[][], cls = ''): string {
  const numeric = headers.map(
    (_, i) =>
      rows.length > 0 &&
      rows.every(
        (r) =>
          r[i] === null ||
          r[i] === undefined ||
          typeof r[i] === 'number' ||
          (typeof r[i] === 'object' && (r[i] as { num?: boolean }).num === true),
      ),
  );
  const cell = (c: Cell, col: number) => {
    const cls = numeric[col] ? ' class="num"' : '';
    if (c !== null && typeof c === 'object') return `<td${cls}>${c.html}</td>`;
    if (typeof c === 'number') return `<td class="num">${esc(formatCell(c))}</td>`;
    return `<td${cls}>${esc(c ?? '–')}</td>`;
  };
  const head = `<tr>${headers.map((h, i) => `<th${numeric[i] ? ' class="num"' : ''}>${esc(h)}</th>`).join('')}</tr>`;
  const body = rows.map((r) => `<tr>${r.map((c, i) => cell(c, i)).join('')}</tr>`).join('');
  return `<div class="table-wrap"><table class="${cls}"><thead>${head}</thead><tbody>${body}</tbody></table></div>`;
}

function formatCell(v: number): string {
  if (!Number.isFinite(v)) return '–';
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  return Math.abs(v) >= 100 ? v.toFixed(1) : v.toFixed(4);
}

/** A titled part of a section. */
export function block(title: string, body: string): string {
  return `<div class="block"><h3>${esc(title)}</h3>${body}</div>`;
}

/** A section of the page. */
export function section(id: string, title: string, body: string, lead?: string): string {
  return `<section id="${esc(id)}"><h2>${esc(title)}</h2>${lead ? `<p class="lead">${esc(lead)}</p>` : ''}${body}</section>`;
}

/** A small coloured label (stage states). */
export function badge(text: string, color: string): string {
  return `<span class="badge" style="--c:${esc(color)}">${esc(text)}</span>`;
}

export interface PageParts {
  title: string;
  /** Header HTML (already escaped/built). */
  header: string;
  sections: Array<{ id: string; title: string; html: string }>;
}

/** The whole document. */
export function page(parts: PageParts): string {
  const nav = parts.sections.map((s) => `<a href="#${esc(s.id)}">${esc(s.title)}</a>`).join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<meta name="generator" content="tailor report">
<title>${esc(parts.title)}</title>
<style>${REPORT_CSS}</style>
</head>
<body>
<header class="top">${parts.header}<nav>${nav}</nav></header>
<main>
${parts.sections.map((s) => s.html).join('\n')}
</main>
<footer>Written by <code>tailor report</code>. Self-contained: no scripts, no network.</footer>
</body>
</html>
`;
}
