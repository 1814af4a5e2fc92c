/**
 * The stages section: one card per stage with its state, output folder, scalar metrics, the
 * pictures at the top of its output not already shown above, and for a failed stage the end of
 * its log.
 */
import { basename } from 'node:path';
import { runsWith } from './dag.js';
import { badge, esc, picture, section, table } from './html.js';
import { flatten, isScalar } from '../util/flatten.js';
import { STATE_COLORS, STATE_WORDS, type RenderContext, type StageView } from './report-data.js';
import { pictureDataUri, picturesIn, readSmallText } from './stage-files.js';

/** Most metrics listed per stage (the rest are in metrics.json). */
const MAX_METRICS = 40;
const LOG_TAIL_LINES = 20;

function metricsTable(s: StageView): string {
  const flat = Object.entries(flatten(s.metrics, isScalar));
  if (flat.length === 0) return '';
  const shown = flat
    .slice(0, MAX_METRICS)
    .map(([k, v]) => [k, typeof v === 'number' ? v : v === null ? null : String(v)]);
  const more = flat.length > MAX_METRICS ? `<p class="note">${flat.length - MAX_METRICS} more in metrics.json</p>` : '';
  return `<details${flat.length <= 12 ? ' open' : ''}><summary>metrics (${flat.length})</summary>${table(['metric', 'value'], shown)}${more}</details>`;
}

async function logTail(s: StageView): Promise<string> {
  const path = s.record?.logPath;
  if (s.state !== 'failed' || !path) return '';
  const text = await readSmallText(path, 8 * 1024 * 1024);
  if (text === undefined) return `<p class="note">log: ${esc(path)} (not readable)</p>`;
  const lines = text.trimEnd().split('\n').slice(-LOG_TAIL_LINES);
  return `<p class="note">last ${lines.length} lines of ${esc(path)}</p><pre class="log">${esc(lines.join('\n'))}</pre>`;
}

async function pictures(ctx: RenderContext, s: StageView): Promise<string> {
  if (!s.out) return '';
  const parts: string[] = [];
  for (const p of await picturesIn(s.out)) {
    if (ctx.shown.has(p)) continue;
    const src = await pictureDataUri(p);
    parts.push(src ? picture(src, basename(p)) : `<p class="note">${esc(basename(p))}: too large to embed</p>`);
  }
  return parts.length ? `<div class="pictures">${parts.join('')}</div>` : '';
}

async function card(ctx: RenderContext, s: StageView): Promise<string> {
  const where = s.out ? `<div class="path">${esc(s.out)}</div>` : '<div class="path">no output in the cache</div>';
  const reasons = s.reasons.length ? `<p class="reasons">${esc(s.reasons.join('; '))}</p>` : '';
  const desc = s.spec.description ? `<p class="note">${esc(s.spec.description)}</p>` : '';
  return `<div class="stage-card" id="stage-${esc(s.spec.name)}"><h3><code>${esc(s.spec.name)}</code>${badge(STATE_WORDS[s.state], STATE_COLORS[s.state])}<span class="note">${esc(runsWith(s))}</span></h3>${desc}${where}${reasons}${await logTail(s)}${metricsTable(s)}${await pictures(ctx, s)}</div>`;
}

/** Render the section (after the others, so it knows which pictures they showed). */
export async function stagesSection(ctx: RenderContext): Promise<string> {
  const cards: string[] = [];
  for (const s of ctx.data.stages) cards.push(await card(ctx, s));
  return section(
    'stages',
    'Stage outputs',
    `<div class="stage-cards">${cards.join('')}</div>`,
    'Each stage’s metrics and the pictures it wrote.',
  );
}
