/**
 * The models section: learning curves (loss and micro-F1 per epoch) of every stage with a
 * training history, PSO convergence, single models vs ensembles on holdout, per-label F1 and
 * thresholds. Each part renders what exists and says plainly what does not.
 */
import { holdoutParts, psoParts } from './ensemble-view.js';
import { readHistory } from './history.js';
import { block, figure, missing, section } from './html.js';
import { lineChart } from '../charts/line-chart.js';
import { withOutput, type RenderContext } from './report-data.js';
import { markPictures } from './stage-files.js';
import { thresholdParts } from './thresholds-view.js';

async function learningCurves(ctx: RenderContext): Promise<string[]> {
  const parts: string[] = [];
  for (const s of withOutput(ctx.data)) {
    const h = await readHistory(s.metrics, s.out);
    if (!h) continue;
    await markPictures(ctx.shown, s.out, /^learning[-_]curves?\./i);
    const phases = h.phases.length > 1 ? ` (phases: ${h.phases.join(' → ')})` : '';
    const xLabel = `epoch${phases}`;
    const note = `${h.epochs} epoch${h.epochs === 1 ? '' : 's'}${phases}, from ${s.spec.name}/${h.source}.`;
    const vlines = h.phaseStarts.map((p) => ({ x: p.x, label: p.phase }));
    const chart = (kind: string, yLabel: string, series: typeof h.loss) =>
      figure(
        `${kind}:${s.spec.name}`,
        `${s.spec.name}: ${yLabel} per epoch`,
        lineChart({ label: `${yLabel} per epoch of ${s.spec.name}`, xLabel, yLabel, series, integerX: true, vlines }),
        note,
      );
    const loss = h.loss.length ? chart('loss', 'loss', h.loss) : missing(`${s.spec.name} records no loss per epoch.`);
    const f1 = h.f1.length ? chart('f1', 'micro-F1', h.f1) : missing(`${s.spec.name} records no F1 per epoch.`);
    parts.push(`<div class="grid2">${loss}${f1}</div>`);
  }
  return parts;
}

/** Render the section. */
export async function modelsSection(ctx: RenderContext): Promise<string> {
  const curves = await learningCurves(ctx);
  const pso = await psoParts(ctx);
  const holdout = await holdoutParts(ctx);
  const thresholds = await thresholdParts(ctx);
  const lead = 'How training went and how the models compare on the holdout set, which no fitting step has seen.';
  if (curves.length + pso.length + holdout.length + thresholds.length === 0) {
    const anyOutput = withOutput(ctx.data).length > 0;
    return section(
      'models',
      'Models',
      missing(
        anyOutput
          ? 'No model stages in this pipeline: no stage output holds a training history, PSO convergence, holdout scores or per-label thresholds.'
          : 'No stage has an output yet: run the pipeline first.',
      ),
      lead,
    );
  }
  const body = [
    block(
      'Learning curves',
      curves.length
        ? curves.join('')
        : missing('No stage recorded a per-epoch history (metrics.json "history", or history.csv).'),
    ),
    block('PSO convergence', pso.length ? pso.join('') : missing('No ensemble stage wrote convergence.csv.')),
    block(
      'Single models vs ensembles on holdout',
      holdout.length ? holdout.join('') : missing('No stage reports a holdout micro-F1.'),
    ),
    block(
      'Per-label F1 and thresholds',
      thresholds.length ? thresholds.join('') : missing('No threshold stage wrote labels.csv or thresholds.json.'),
    ),
  ];
  return section('models', 'Models', body.join(''), lead);
}
