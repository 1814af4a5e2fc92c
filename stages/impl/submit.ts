/** submit's run (the definition and params: ../submit.ts). */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { StageContext } from '../../src/stage-api.js';
import { toCsv } from '../../src/formats/csv.js';
import { readSplitEntries } from '../../src/formats/manifest.js';
import { PREDICTIONS, SPLIT, THRESHOLDS } from '../../src/formats/output-kinds.js';
import { readPredictions } from '../../src/formats/predictions.js';
import {
  canonicalRows,
  formatSubmission,
  parseSubmission,
  SUBMISSION_FILE,
  type SubmissionRow,
} from '../../src/formats/submission.js';
import { predictionsFingerprint, readThresholdsFile } from '../../src/formats/thresholds.js';
import { findInput } from '../../src/stage-kit/inputs.js';
import { alignPredictions } from '../../src/ml/label-matrix.js';
import { findTestImages, priorGuess } from '../../src/ml/submission-inputs.js';
import { applyThresholds } from '../../src/ml/thresholds.js';
import type { SubmitParams } from '../submit.js';

export default async function submit(ctx: StageContext<SubmitParams>): Promise<void> {
  const p = ctx.params;
  const split = findInput(ctx.needs, SPLIT, { param: { name: 'split', value: p.split } });
  const thr = findInput(ctx.needs, THRESHOLDS, { param: { name: 'thresholds', value: p.thresholds } });
  const t = await readThresholdsFile(thr.dir);
  // By default the producer the thresholds were fitted on, when it is among the needs.
  const fittedOn = Object.hasOwn(ctx.needs, t.predictions.stage) ? t.predictions.stage : undefined;
  const source = findInput(ctx.needs, PREDICTIONS, {
    param: { name: 'predictions', value: p.predictions ?? fittedOn },
    exclude: [split, thr],
  });
  if (t.predictions.sha256 !== (await predictionsFingerprint(source.dir))) {
    throw new Error(
      `${thr.name}/thresholds.json was fitted on the predictions of "${t.predictions.stage}", which differ from those of "${source.name}": submit needs the same predictions producer as the threshold stage`,
    );
  }
  const preds = await readPredictions(source.dir);
  const test = preds.splits.test;
  if (!test) throw new Error(`${source.name}: no test predictions (predictions.json has no "test" split)`);

  // Which images the submission must cover.
  const splitTest = await readSplitEntries(split.dir, 'test');
  const listed = await findTestImages(ctx, p, split, splitTest, [split, thr, source]);
  ctx.log(
    `${listed.ids.length} test images from ${listed.from}${listed.duplicates > 0 ? ` (${listed.duplicates} repeated ids ignored)` : ''}`,
  );

  const predicted = new Set(test.ids);
  const scoredIds = listed.ids.filter((id) => predicted.has(id));
  const failedIds = listed.ids.filter((id) => !predicted.has(id));
  const reason = new Map(splitTest.filter((e) => e.error !== undefined).map((e) => [e.imageId, e.error as string]));
  const L = t.labels.length;
  const probs = alignPredictions(preds, 'test', scoredIds, t.labels, source.name);
  const bin = applyThresholds(probs, scoredIds.length, L, t.thresholds, t.at_least_one);
  const rows: SubmissionRow[] = scoredIds.map((imageId, r) => ({
    imageId,
    labels: t.labels.filter((_, l) => bin[r * L + l] === 1),
  }));
  const prior = p.failed === 'priors' && failedIds.length > 0 ? await priorGuess(split.dir, t.labels) : undefined;
  if (prior)
    ctx.log(
      `failed images get the ${prior.k} most frequent label(s) (${prior.labels.join(' ')}; validation micro-F1 of that guess ${prior.validationMicroF1.toFixed(4)})`,
    );
  for (const imageId of failedIds) rows.push({ imageId, labels: prior ? [...prior.labels] : [] });

  const canonical = canonicalRows(rows);
  const file = join(ctx.out, SUBMISSION_FILE);
  await writeFile(file, formatSubmission(canonical));
  if (!isDeepStrictEqual(parseSubmission(await readFile(file, 'utf8')), canonical))
    throw new Error('internal error: submission.csv does not read back to the rows written');
  const failedRows = canonicalRows(failedIds.map((imageId) => ({ imageId, labels: [] })));
  await writeFile(
    join(ctx.out, 'failed.csv'),
    toCsv(
      ['image_id', 'reason'],
      failedRows.map((r) => [r.imageId, reason.get(r.imageId) ?? 'no prediction']),
    ),
  );

  const labelCount = canonical.reduce((a, r) => a + r.labels.length, 0);
  const unlisted = test.ids.length - scoredIds.length;
  if (failedIds.length > 0)
    ctx.log(
      `${failedIds.length} test image(s) without a prediction: ${p.failed === 'priors' ? 'predicted from label priors' : 'left empty'} (listed in failed.csv)`,
    );
  if (unlisted > 0) ctx.log(`${unlisted} test prediction(s) for images not in ${listed.from} were not written`);
  ctx.log(
    `submission.csv: ${canonical.length} rows, ${(labelCount / Math.max(1, canonical.length)).toFixed(2)} labels per row`,
  );
  ctx.metrics({
    submission: {
      rows: canonical.length,
      predicted_rows: scoredIds.length,
      failed_rows: failedIds.length,
      failed_mode: p.failed,
      prior_labels: prior?.labels ?? [],
      empty_rows: canonical.filter((r) => r.labels.length === 0).length,
      labels_per_row: Math.round((labelCount / Math.max(1, canonical.length)) * 1e4) / 1e4,
      test_source: listed.from,
      repeated_ids_in_input: listed.duplicates,
      unlisted_predictions: unlisted,
      thresholds_mode: t.mode,
      at_least_one: t.at_least_one,
    },
  });
}
