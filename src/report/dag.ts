/**
 * The pipeline section's graph: stages in layers top to bottom (a stage sits one layer below the
 * deepest stage it needs), each box coloured by its state and labelled with its seconds; beside
 * it a table of states and, for stale stages, the reasons in words.
 */
import { badge, table, type Cell } from './html.js';
import { STATE_COLORS, STATE_WORDS, type ReportData, type ShownState, type StageView } from './report-data.js';
import { clip, escapeXml, legend, r1, svgFrame } from '../charts/svg.js';
import { formatDuration } from '../util/format.js';

const NODE_W = 176;
const NODE_H = 48;
const H_GAP = 26;
const V_GAP = 44;

/** Mix a #rrggbb colour with white (`amount` of the colour kept). */
export function tint(hex: string, amount: number): string {
  const n = Number.parseInt(hex.slice(1), 16);
  const mix = (c: number) => Math.round(255 - (255 - c) * amount);
  const [r, g, b] = [mix((n >> 16) & 255), mix((n >> 8) & 255), mix(n & 255)];
  return `#${((r << 16) | (g << 8) | b).toString(16).padStart(6, '0')}`;
}

/** What the box's second line says: the state and where the time went. */
function subtitle(s: StageView): string {
  const word = STATE_WORDS[s.state];
  if (s.state === 'ran' || s.state === 'failed')
    return s.record ? `${word} · ${formatDuration(s.record.seconds)}` : word;
  if (s.state === 'cached' && s.producedSeconds !== undefined)
    return `${word} · took ${formatDuration(s.producedSeconds)}`;
  return word;
}

/** Layers of stage indexes, ordered within each layer to keep edges short (barycentre of parents). */
function layers(stages: StageView[]): number[][] {
  const index = new Map(stages.map((s, i) => [s.spec.name, i]));
  const depth: number[] = [];
  stages.forEach((s, i) => {
    depth[i] = s.spec.needs.reduce((d, n) => Math.max(d, (depth[index.get(n) ?? -1] ?? -1) + 1), 0);
  });
  const out: number[][] = [];
  depth.forEach((d, i) => (out[d] ??= []).push(i));
  const pos = new Map<number, number>();
  out.forEach((layer, d) => {
    if (d > 0) {
      const key = (i: number) => {
        const ps = (stages[i] as StageView).spec.needs
          .map((n) => pos.get(index.get(n) ?? -1))
          .filter((p): p is number => p !== undefined);
        return ps.length ? ps.reduce((a, b) => a + b, 0) / ps.length : 0;
      };
      layer.sort((a, b) => key(a) - key(b) || a - b);
    }
    layer.forEach((i, j) => pos.set(i, j - (layer.length - 1) / 2));
  });
  return out;
}

/** The graph as SVG. */
export function dagSvg(data: ReportData): string {
  const stages = data.stages;
  const ls = layers(stages);
  const widest = Math.max(1, ...ls.map((l) => l.length));
  const states = [...new Set(stages.map((s) => s.state))];
  const width = Math.max(360, widest * NODE_W + (widest - 1) * H_GAP + 24);
  const leg = legend(
    states.map((s) => ({ name: STATE_WORDS[s], color: STATE_COLORS[s] })),
    12,
    16,
    width - 24,
  );
  const top = 16 + leg.height + 8;
  const height = top + ls.length * (NODE_H + V_GAP) - V_GAP + 12;
  const at = new Map<string, { x: number; y: number }>();
  ls.forEach((layer, d) => {
    const rowW = layer.length * NODE_W + (layer.length - 1) * H_GAP;
    layer.forEach((i, j) =>
      at.set((stages[i] as StageView).spec.name, {
        x: (width - rowW) / 2 + j * (NODE_W + H_GAP),
        y: top + d * (NODE_H + V_GAP),
      }),
    );
  });
  const body: string[] = [
    '<defs><marker id="dag-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#8b949e"/></marker></defs>',
    leg.svg,
  ];
  for (const s of stages) {
    const to = at.get(s.spec.name);
    for (const n of s.spec.needs) {
      const from = at.get(n);
      if (!from || !to) continue;
      const [x1, y1, x2, y2] = [from.x + NODE_W / 2, from.y + NODE_H, to.x + NODE_W / 2, to.y - 2];
      const dy = (y2 - y1) / 2;
      body.push(
        `<path d="M${r1(x1)},${r1(y1)} C${r1(x1)},${r1(y1 + dy)} ${r1(x2)},${r1(y2 - dy)} ${r1(x2)},${r1(y2)}" fill="none" stroke="#a7adb5" stroke-width="1.4" marker-end="url(#dag-arrow)"/>`,
      );
    }
  }
  for (const s of stages) {
    const p = at.get(s.spec.name);
    if (!p) continue;
    const color = STATE_COLORS[s.state];
    const tip = [s.spec.name, subtitle(s), ...s.reasons.slice(0, 6)].join('\n');
    body.push(
      `<g class="node" data-stage="${escapeXml(s.spec.name)}" data-state="${s.state}"><title>${escapeXml(tip)}</title>` +
        `<rect class="mark" x="${r1(p.x)}" y="${r1(p.y)}" width="${NODE_W}" height="${NODE_H}" rx="8" fill="${tint(color, 0.16)}" stroke="${color}" stroke-width="1.6"${s.state === 'stale' || s.state === 'never-run' ? ' stroke-dasharray="5 3"' : ''}/>` +
        `<rect x="${r1(p.x)}" y="${r1(p.y)}" width="6" height="${NODE_H}" rx="3" fill="${color}"/>` +
        `<text class="node-name" x="${r1(p.x + 16)}" y="${r1(p.y + 20)}">${escapeXml(clip(s.spec.name, 22))}</text>` +
        `<text class="node-sub" x="${r1(p.x + 16)}" y="${r1(p.y + 37)}">${escapeXml(subtitle(s))}</text></g>`,
    );
  }
  return svgFrame(width, height, `graph of pipeline ${data.pipeline.displayName}`, body, { wide: width > 1100 });
}

/** How the stage is run, in a few words. */
export function runsWith(s: StageView): string {
  if (s.spec.kind === 'cmd') return 'cmd';
  if (s.builtin) return `uses ${s.builtin}`;
  return 'module';
}

/** One row per stage: state, what the last run did and how long, and why it is stale. */
export function stageTable(data: ReportData): string {
  const seconds = (v: number | undefined): Cell =>
    v === undefined ? null : { html: escapeXml(formatDuration(v)), num: true };
  const why = data.stages.some((s) => s.reasons.length > 0);
  const rows: Cell[][] = data.stages.map((s) => [
    { html: `<code>${escapeXml(s.spec.name)}</code>` },
    runsWith(s),
    { html: badge(STATE_WORDS[s.state], STATE_COLORS[s.state]) },
    seconds(s.record?.seconds),
    seconds(s.producedSeconds),
    ...(why
      ? [
          {
            html: `<span class="reasons">${escapeXml(s.reasons.slice(0, 3).join('; ') + (s.reasons.length > 3 ? `; +${s.reasons.length - 3} more` : ''))}</span>`,
          },
        ]
      : []),
  ]);
  // "last run": what the stage cost in the last run (a cache hit costs next to nothing);
  // "output took": how long producing its current output took.
  return table(['stage', 'runs with', 'state', 'last run', 'output took', ...(why ? ['why'] : [])], rows, 'stages');
}

/** Counts of stages per state, in a fixed order (for the header). */
export function stateCounts(stages: StageView[]): Array<[ShownState, number]> {
  const order: ShownState[] = ['ran', 'cached', 'failed', 'skipped', 'stale', 'never-run'];
  return order
    .map((st) => [st, stages.filter((s) => s.state === st).length] as [ShownState, number])
    .filter(([, n]) => n > 0);
}
