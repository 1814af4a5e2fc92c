/** The report's stylesheet: system fonts (nothing to fetch), one column, cards, readable charts. */
export const REPORT_CSS = `
:root {
  --ink: #1f2328; --muted: #5b636d; --faint: #8b949e; --line: #e3e6ea; --bg: #f5f6f8; --card: #fff;
  --accent: #4e79a7;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Liberation Sans", "DejaVu Sans", Arial, sans-serif;
  font-size: 15px; line-height: 1.5; color: var(--ink); background: var(--bg);
}
* { box-sizing: border-box; }
body { margin: 0; }
code, pre { font-family: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.86em; }
header.top { background: #1f2a37; color: #f3f4f6; padding: 22px 0 0; }
header.top > * { max-width: 1180px; margin-left: auto; margin-right: auto; padding: 0 28px; }
header.top h1 { margin: 0 auto; font-size: 1.6rem; font-weight: 650; letter-spacing: -0.01em; }
header.top h1 .sub { color: #9ca3af; font-weight: 400; font-size: 1rem; margin-left: 0.6em; }
header.top .meta { color: #c4cad2; font-size: 0.9rem; margin-top: 4px; }
header.top .meta code { color: #e5e7eb; }
.kpis { display: flex; flex-wrap: wrap; gap: 12px; margin-top: 16px !important; }
.kpi { background: rgba(255,255,255,0.07); border: 1px solid rgba(255,255,255,0.12); border-radius: 8px; padding: 8px 14px; min-width: 120px; }
.kpi .v { font-size: 1.3rem; font-weight: 650; font-variant-numeric: tabular-nums; }
.kpi .k { font-size: 0.78rem; color: #aeb6c0; text-transform: uppercase; letter-spacing: 0.04em; }
nav { display: flex; gap: 4px; margin-top: 18px !important; }
nav a { color: #d1d5db; text-decoration: none; padding: 8px 12px; border-radius: 6px 6px 0 0; font-size: 0.92rem; }
nav a:hover { background: var(--bg); color: var(--ink); }
main { max-width: 1180px; margin: 0 auto; padding: 8px 28px 40px; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 20px 24px 8px; margin: 22px 0; }
h2 { font-size: 1.3rem; margin: 0 0 4px; letter-spacing: -0.01em; }
h3 { font-size: 1.02rem; margin: 18px 0 8px; color: #2d333b; }
.lead { color: var(--muted); margin: 0 0 8px; }
.block { margin-bottom: 14px; }
.grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr)); gap: 8px 24px; align-items: start; }
figure { margin: 6px 0 14px; }
figcaption { font-weight: 600; font-size: 0.93rem; margin-bottom: 4px; color: #2d333b; }
.scroll { overflow-x: auto; }
.note { color: var(--muted); font-size: 0.84rem; margin: 4px 0 0; }
.missing { color: var(--muted); font-style: italic; background: #f8f9fa; border: 1px dashed #d5d9de; border-radius: 6px; padding: 8px 12px; margin: 6px 0 14px; }
svg.chart-svg { display: block; max-width: 100%; height: auto; }
svg.chart-svg.wide { max-width: none; }
svg.chart-svg text { font-size: 12px; fill: #3d444d; }
svg.chart-svg text.tick { fill: #6b7380; font-size: 11px; font-variant-numeric: tabular-nums; }
svg.chart-svg text.axis-title { fill: #4b535d; font-size: 12px; }
svg.chart-svg text.value { fill: #3d444d; font-size: 11px; font-variant-numeric: tabular-nums; }
svg.chart-svg text.node-name { font-weight: 600; fill: #1f2328; font-size: 12.5px; }
svg.chart-svg text.node-sub { fill: #4b535d; font-size: 11px; }
svg.chart-svg .grid { stroke: #eceef1; }
svg.chart-svg .axis { stroke: #9aa1aa; }
svg.chart-svg .frame { fill: none; stroke: #d5d9de; }
.table-wrap { overflow-x: auto; margin: 4px 0 14px; }
table { border-collapse: collapse; font-size: 0.88rem; }
th, td { text-align: left; padding: 5px 12px 5px 0; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.03em; white-space: nowrap; }
table.experiments th { text-transform: none; letter-spacing: 0; }
table.experiments td { white-space: nowrap; }
table.experiments .delta { color: var(--muted); font-size: 0.8rem; margin-left: 4px; }
h4 { font-size: 0.93rem; margin: 0 0 4px; color: #2d333b; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.reasons { color: var(--muted); font-size: 0.84rem; }
tr.best td { font-weight: 650; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 0.78rem; font-weight: 600; color: var(--c); background: color-mix(in srgb, var(--c) 14%, white); border: 1px solid color-mix(in srgb, var(--c) 45%, white); white-space: nowrap; }
.pictures { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 10px 20px; }
.picture img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; background: #fff; }
.thumbs { display: grid; grid-template-columns: repeat(auto-fill, minmax(112px, 1fr)); gap: 10px; margin: 6px 0 14px; }
.thumbs figure { margin: 0; }
.thumbs img { width: 100%; aspect-ratio: 1; object-fit: contain; background: #fff; border: 1px solid var(--line); border-radius: 4px; display: block; }
.thumbs figcaption { font-weight: 400; font-size: 0.75rem; color: var(--muted); margin: 2px 0 0; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
details { margin: 4px 0 14px; }
summary { cursor: pointer; color: var(--accent); font-size: 0.9rem; }
pre.log { background: #1f2328; color: #e6edf3; padding: 10px 12px; border-radius: 6px; overflow-x: auto; font-size: 0.8rem; }
.stage-cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 14px; margin: 8px 0 16px; }
.stage-card { border: 1px solid var(--line); border-radius: 8px; padding: 8px 14px 4px; min-width: 0; }
.stage-card h3 { display: flex; gap: 10px; align-items: center; margin: 4px 0 2px; }
.stage-card .pictures { grid-template-columns: 1fr; }
.stage-card .path { color: var(--faint); font-size: 0.8rem; word-break: break-all; }
footer { max-width: 1180px; margin: 0 auto; padding: 0 28px 32px; color: var(--faint); font-size: 0.82rem; }
@media print { header.top { background: none; color: var(--ink); } nav { display: none; } section { break-inside: avoid-page; } }
`;
