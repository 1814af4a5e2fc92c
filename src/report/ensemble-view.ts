/**
 * Ensemble parts of the models section: the PSO convergence curve (`convergence.csv`), the
 * weights (`weights.json`), and single models vs ensembles on holdout (`methods.csv`, else every
 * stage's `holdout.micro_f1`, with the split's frequency baseline for scale).
 */
import { join } from 'node:path';
import { columnOf, numberAt } from '../formats/csv.js';
import { hbarChart, type HBarRow } from '../charts/hbar-chart.js';
import { esc, figure, table, type Cell } from './html.js';
import { lineChart } from '../charts/line-chart.js';
import { numberAtPath } from '../util/flatten.js';
import { withOutput, type RenderContext } from './report-data.js';
import { PALETTE } from '../charts/svg.js';
import { markPictures, readCsv, readJson } from './stage-files.js';

const KIND_COLORS: Record<string, string> = { model: PALETTE[0], ensemble: PALETTE[1], baseline: PALETTE[9] };
/** Legend order: single models, ensembles, the baseline, anything else. */
function kindOrder(kind: string): number {
  const i = Object.keys(KIND_COLORS).indexOf(kind);
  return i < 0 ? Number.MAX_SAFE_INTEGER : i;
}

/** Convergence charts and weight tables, one per stage that wrote convergence.csv. */
export async function psoParts(ctx: RenderContext): Promise<string[]> {
  const parts: string[] = [];
  for (const s of withOutput(ctx.data)) {
    const t = await readCsv(join(s.out, 'convergence.csv'));
    if (!t || t.rows.length === 0) continue;
    const it = Math.max(0, columnOf(t, 'iteration', 'round', 'step'));
    const series = t.header
      .map((h, i) => ({ h, i }))
      .filter(({ i }) => i !== it)
      .map(({ h, i }) => ({
        name: `swarm ${h}`,
        points: t.rows.map((r): [number, number] => [numberAt(r, it), numberAt(r, i)]),
      }));
    const w = (await readJson(join(s.out, 'weights.json'))) as
      { models?: Array<{ stage?: unknown; weight?: unknown }> } | undefined;
    const weights = Array.isArray(w?.models)
      ? w.models.filter((m) => typeof m.stage === 'string' && typeof m.weight === 'number')
      : [];
    await markPictures(ctx.shown, s.out, /^convergence\./i);
    const svg = lineChart({
      label: `PSO convergence of ${s.spec.name}`,
      xLabel: 'round',
      yLabel: 'fit-set micro-F1',
      series,
      integerX: true,
    });
    const weightTable =
      weights.length > 0
        ? table(
            ['model', 'weight'],
            weights.map((m) => [m.stage as string, m.weight as number]),
          )
        : '';
    parts.push(
      `<div class="grid2">${figure(`pso:${s.spec.name}`, `${s.spec.name}: PSO convergence`, svg, `From ${s.spec.name}/convergence.csv (best and mean score of the swarm per round).`)}<div><h4>Weights</h4>${weightTable || '<p class="note">no weights.json</p>'}</div></div>`,
    );
  }
  return parts;
}

interface Method {
  name: string;
  kind: string;
  validation?: number;
  holdout: number;
  threshold?: number;
}

/** Rows of `methods.csv` of every stage that wrote one (prefixed by stage when several did). */
async function methodRows(ctx: RenderContext): Promise<{ rows: Method[]; from: string[] }> {
  const perStage: Array<{ stage: string; rows: Method[] }> = [];
  for (const s of withOutput(ctx.data)) {
    const t = await readCsv(join(s.out, 'methods.csv'));
    const hold = t ? columnOf(t, 'holdout_micro_f1') : -1;
    if (!t || hold < 0) continue;
    const [name, kind, val, thr] = [
      columnOf(t, 'method', 'name'),
      columnOf(t, 'kind'),
      columnOf(t, 'validation_micro_f1'),
      columnOf(t, 'threshold'),
    ];
    const rows = t.rows.map((r) => ({
      name: r[Math.max(0, name)] ?? '?',
      kind: (kind >= 0 ? r[kind] : undefined) || 'model',
      validation: numberAt(r, val),
      holdout: numberAt(r, hold),
      threshold: numberAt(r, thr),
    }));
    perStage.push({ stage: s.spec.name, rows });
  }
  const several = perStage.length > 1;
  return {
    rows: perStage.flatMap((p) => p.rows.map((r) => (several ? { ...r, name: `${p.stage}: ${r.name}` } : r))),
    from: perStage.map((p) => `${p.stage}/methods.csv`),
  };
}

/** Every stage reporting `holdout.micro_f1` (when no stage wrote methods.csv). */
function stageRows(ctx: RenderContext): Method[] {
  return ctx.data.stages.flatMap((s) => {
    const h = numberAtPath(s.metrics, 'holdout.micro_f1');
    if (h === undefined) return [];
    const kind = /ensemble|pso|threshold/i.test(`${s.builtin ?? ''} ${s.spec.name}`) ? 'ensemble' : 'model';
    return [{ name: s.spec.name, kind, validation: numberAtPath(s.metrics, 'validation.micro_f1'), holdout: h }];
  });
}

/** The frequency baseline the split stage reports, as a comparison row. */
function baselineRow(ctx: RenderContext): Method | undefined {
  for (const s of ctx.data.stages) {
    const h = numberAtPath(s.metrics, 'baseline.holdout_micro_f1');
    if (h === undefined) continue;
    const k = numberAtPath(s.metrics, 'baseline.k');
    return { name: `frequency baseline${k === undefined ? '' : ` (top ${k})`}`, kind: 'baseline', holdout: h };
  }
  return undefined;
}

/** Chart and table of holdout micro-F1: single models vs ensembles. */
export async function holdoutParts(ctx: RenderContext): Promise<string[]> {
  const methods = await methodRows(ctx);
  const rows = methods.rows.length > 0 ? methods.rows : stageRows(ctx);
  if (rows.length === 0) return [];
  const base = baselineRow(ctx);
  const all = [...rows, ...(base ? [base] : [])].sort((a, b) => b.holdout - a.holdout);
  const kinds = [...new Set(all.map((r) => r.kind))].sort((a, b) => kindOrder(a) - kindOrder(b));
  const bars: HBarRow[] = all.map((r) => ({
    label: r.name,
    value: r.holdout,
    color: KIND_COLORS[r.kind] ?? PALETTE[4],
    note: r.kind,
  }));
  const svg = hbarChart({
    label: 'holdout micro-F1 of single models and ensembles',
    xLabel: 'holdout micro-F1',
    rows: bars,
    legend: kinds.map((k) => ({ name: k === 'model' ? 'single model' : k, color: KIND_COLORS[k] ?? PALETTE[4] })),
    zoom: true,
  });
  const source =
    methods.rows.length > 0 ? `From ${methods.from.join(', ')}` : 'From each stage’s metrics (holdout.micro_f1)';
  const best = all[0];
  const tableRows: Cell[][] = all.map((r) => [
    r === best ? { html: `<strong>${esc(r.name)}</strong>` } : r.name,
    r.kind,
    r.validation ?? null,
    r.holdout,
    r.threshold ?? null,
  ]);
  return [
    figure(
      'holdout',
      'Holdout micro-F1 by method, best first',
      svg,
      `${source}; the axis starts near the lowest score to show the differences.`,
    ),
    table(['method', 'kind', 'validation micro-F1', 'holdout micro-F1', 'threshold'], tableRows),
  ];
}
