/** The data section: label distribution train beside validation, padded examples, fetch failures. */
import { basename } from 'node:path';
import { groupedBarChart } from '../charts/bar-chart.js';
import { readFailures } from './failures.js';
import { hbarChart, type HBarRow } from '../charts/hbar-chart.js';
import { block, esc, figure, missing, picture, section, table } from './html.js';
import { previewPictures, sampleThumbs } from './examples.js';
import { readLabelDistribution } from './label-frequency.js';
import { withOutput, type RenderContext, type StageView } from './report-data.js';
import { PALETTE } from '../charts/svg.js';
import { formatNumber } from '../util/format.js';
import { markPictures, pictureDataUri } from './stage-files.js';

/** Whether a stage is (or looks like) the built-in `name` stage. */
export function isStageKind(s: StageView, name: string): boolean {
  return s.builtin === name || new RegExp(`(^|[^a-z])${name}([^a-z]|$)`, 'i').test(s.spec.name);
}

/** "no X stage in this pipeline" or "X has no output yet", for a kind of stage that shows nothing. */
function absent(ctx: RenderContext, kind: string, what: string): string {
  const found = ctx.data.stages.filter((s) => isStageKind(s, kind));
  if (found.length === 0) return missing(`No ${kind} stage in this pipeline, so no ${what}.`);
  const names = found.map((s) => s.spec.name).join(', ');
  return missing(
    found.some((s) => s.out)
      ? `${names} wrote no ${what}.`
      : `${names} has no output yet: run the pipeline to see ${what}.`,
  );
}

async function labelDistribution(ctx: RenderContext): Promise<string> {
  const candidates = withOutput(ctx.data).sort(
    (a, b) => Number(isStageKind(b, 'split')) - Number(isStageKind(a, 'split')),
  );
  for (const s of candidates) {
    const d = await readLabelDistribution(s);
    if (!d) continue;
    const svg = groupedBarChart({
      label: 'label distribution, train beside validation',
      yLabel: `% of ${d.unit}`,
      categories: d.labels.map((id) => (d.names.has(id) ? `${d.names.get(id)} (${id})` : ctx.label(id))),
      series: [
        { name: 'train', values: d.percent.train, color: PALETTE[0] },
        { name: 'validation', values: d.percent.validation, color: PALETTE[1] },
      ],
      format: (v) => `${v.toFixed(2)}%`,
    });
    await markPictures(ctx.shown, s.out, /^label[-_]distribution\./i);
    const note = `${d.labels.length} labels, most frequent in train first; from ${s.spec.name}/${d.source}.`;
    return figure('label-distribution', 'Label distribution: train beside validation', svg, note);
  }
  return absent(ctx, 'split', 'label distribution (label-frequency.csv or train.jsonl + validation.jsonl)');
}

async function paddedExamples(ctx: RenderContext): Promise<string> {
  const stages = withOutput(ctx.data).filter((s) => isStageKind(s, 'pad'));
  const parts: string[] = [];
  for (const s of stages) {
    const previews = await previewPictures(s.out);
    for (const p of previews) {
      const src = await pictureDataUri(p);
      if (!src) continue;
      ctx.shown.add(p);
      parts.push(picture(src, `${s.spec.name}: ${basename(p)}`));
    }
    if (previews.length > 0) continue;
    const thumbs = await sampleThumbs(s.out, 12, ctx.label);
    if (thumbs.length > 0) {
      const cells = thumbs.map(
        (t) =>
          `<figure><img src="${t.src}" alt="${esc(t.caption)}"><figcaption title="${esc(t.caption)}">${esc(t.caption)}</figcaption></figure>`,
      );
      parts.push(
        `<div class="thumbs" data-thumbs="${esc(s.spec.name)}">${cells.join('')}</div><p class="note">${thumbs.length} images sampled from ${esc(s.spec.name)}/manifest.jsonl.</p>`,
      );
    }
  }
  return parts.length > 0
    ? parts.join('')
    : absent(ctx, 'pad', 'padded examples (a preview picture or manifest images)');
}

async function fetchFailures(ctx: RenderContext): Promise<string> {
  const parts: string[] = [];
  for (const s of withOutput(ctx.data)) {
    const f = await readFailures(s.out);
    if (!f) continue;
    if (f.total === 0) {
      parts.push(`<p>${esc(s.spec.name)}: no failures, every listed image was fetched and decoded.</p>`);
      continue;
    }
    const top = f.byReason.slice(0, 12);
    const rest = f.byReason.slice(12);
    const rows: HBarRow[] = top.map((r) => ({ label: r.reason, value: r.count, color: PALETTE[3] }));
    if (rest.length > 0)
      rows.push({
        label: `${rest.length} other reasons`,
        value: rest.reduce((t, r) => t + r.count, 0),
        color: PALETTE[9],
      });
    const svg = hbarChart({
      label: `fetch failures by reason in ${s.spec.name}`,
      xLabel: 'images',
      integer: true,
      rows,
      legend: [{ name: 'images that failed', color: PALETTE[3] }],
    });
    parts.push(
      figure(
        `failures:${s.spec.name}`,
        `${s.spec.name}: ${formatNumber(f.total)} failure${f.total === 1 ? '' : 's'} by reason`,
        svg,
        `From ${s.spec.name}/failures.csv.`,
      ),
    );
    parts.push(
      `<details><summary>first ${f.examples.length} failures</summary>${table(
        ['image', 'url', 'reason'],
        f.examples.map((e) => [e.imageId, e.url, e.reason]),
      )}</details>`,
    );
  }
  return parts.length > 0 ? parts.join('') : absent(ctx, 'fetch', 'fetch failures (failures.csv)');
}

/** Render the section. */
export async function dataSection(ctx: RenderContext): Promise<string> {
  const body = [
    block('Label distribution', await labelDistribution(ctx)),
    block('Padded examples', await paddedExamples(ctx)),
    block('Fetch failures', await fetchFailures(ctx)),
  ].join('');
  return section(
    'data',
    'Data',
    body,
    'What the models learn from: how labels are spread over train and validation, what the padded images look like, and which images could not be used.',
  );
}
