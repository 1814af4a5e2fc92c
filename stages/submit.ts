/**
 * submit: the Kaggle file. Every test image of the original test JSON gets one row, ordered by
 * numeric id: labels from the thresholded test probabilities, or — for images without a
 * prediction (failed download) — the label-prior guess or nothing, as param `failed` says.
 * The written file is read back and must give the same rows.
 *
 * Inputs (ctx.needs): the threshold stage (thresholds.json), the predictions producer those
 * thresholds were fitted on (predictions.json; checked by fingerprint), the split (labels,
 * test.jsonl, label frequencies). The test image list: param `test_json` (a workspace path — also
 * list it under `deps`), else a needed stage's `test.json` (e.g. mosaic; param `test_source` picks
 * one), else the split's test.jsonl (which keeps failed images as error lines).
 * Outputs: submission.csv, failed.csv (image_id,reason), metrics.json (counts).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { join, resolve } from 'node:path';
import { defineStage } from '../src/stage-api.js';
import { PREDICTIONS_FILE, readPredictions } from '../src/formats/predictions.js';
import { findNeed, findSplit, type NamedDir } from '../src/ml/ensemble-inputs.js';
import { alignPredictions, readSplitEntries } from '../src/ml/label-matrix.js';
import { applyThresholds } from '../src/ml/thresholds.js';
import { predictionsFingerprint, readThresholdsFile, THRESHOLDS_FILE } from '../src/ml/thresholds-file.js';
import { canonicalRows, formatSubmission, parseSubmission, type SubmissionRow } from '../src/ml/submission.js';
import { priorGuess, readTestImageIds } from '../src/ml/submission-inputs.js';
import { toCsv } from '../src/ml/csv-table.js';

interface Params {
  failed: 'priors' | 'empty';
  test_json: string;
  test_source: string;
  thresholds: string;
  predictions: string;
  split: string;
}

const TEST_JSON = 'test.json';

export default defineStage<Params>({
  description:
    'Write the Kaggle submission.csv: one row per test image (failed images from label priors or empty), checked by reading it back',
  deterministic: true,
  params: {
    type: 'object',
    additionalProperties: false,
    properties: {
      failed: {
        enum: ['priors', 'empty'],
        default: 'priors',
        description:
          'Labels for test images without a prediction (failed download): "priors" = the k most frequent labels, k best on validation; "empty" = none.',
      },
      test_json: {
        type: 'string',
        default: '',
        description:
          'Path (from the working folder) of the original iMaterialist test JSON whose every image gets a row; list it under deps too. Empty: see test_source.',
      },
      test_source: {
        type: 'string',
        default: '',
        description:
          "Upstream stage whose output holds test.json (e.g. mosaic). Empty: the only needed stage with a test.json, else the split's test.jsonl.",
      },
      thresholds: {
        type: 'string',
        default: '',
        description: 'Upstream threshold stage; empty: the needed stage whose output holds thresholds.json.',
      },
      predictions: {
        type: 'string',
        default: '',
        description:
          'Upstream predictions producer; empty: the one the thresholds were fitted on when it is needed, else the only needed stage with predictions.json.',
      },
      split: {
        type: 'string',
        default: '',
        description: 'Upstream split stage; empty: the needed stage whose output holds labels.json and holdout.jsonl.',
      },
    },
  },
  async run(ctx) {
    const p = ctx.params;
    const split = findSplit(ctx.needs, p.split || undefined);
    const thr = findNeed(ctx.needs, [THRESHOLDS_FILE], 'threshold stage', 'thresholds', p.thresholds || undefined);
    const rest = (...skip: NamedDir[]) =>
      Object.fromEntries(Object.entries(ctx.needs).filter(([n]) => !skip.some((s) => s.name === n)));
    const t = await readThresholdsFile(thr.dir);
    // By default the producer the thresholds were fitted on, when it is among the needs.
    const producers = rest(split, thr);
    const named = p.predictions || (Object.hasOwn(producers, t.predictions.stage) ? t.predictions.stage : undefined);
    const source = findNeed(producers, [PREDICTIONS_FILE], 'predictions producer', 'predictions', named);

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
    let listed: string[];
    let duplicates = 0;
    let testFrom: string;
    if (p.test_json) {
      const file = resolve(ctx.workdir, p.test_json);
      ({ ids: listed, duplicates } = await readTestImageIds(file));
      testFrom = p.test_json;
    } else {
      const holder = p.test_source
        ? findNeed(ctx.needs, [TEST_JSON], 'stage with test.json', 'test_source', p.test_source)
        : Object.entries(rest(split, thr, source))
            .filter(([, dir]) => existsSync(join(dir, TEST_JSON)))
            .map(([name, dir]) => ({ name, dir }));
      const holders = Array.isArray(holder) ? holder : [holder];
      if (holders.length > 1)
        throw new Error(
          `several needed stages hold test.json (${holders.map((h) => h.name).join(', ')}): name one with param test_source`,
        );
      const one = holders[0];
      if (one) {
        ({ ids: listed, duplicates } = await readTestImageIds(join(one.dir, TEST_JSON)));
        testFrom = `${one.name}/${TEST_JSON}`;
      } else {
        if (splitTest.length === 0)
          throw new Error(
            `no test image list: set param test_json, need a stage with test.json, or give the split a test.jsonl`,
          );
        listed = [...new Set(splitTest.map((e) => e.imageId))];
        duplicates = splitTest.length - listed.length;
        testFrom = `${split.name}/test.jsonl`;
      }
    }
    ctx.log(
      `${listed.length} test images from ${testFrom}${duplicates > 0 ? ` (${duplicates} repeated ids ignored)` : ''}`,
    );

    const predicted = new Set(test.ids);
    const scoredIds = listed.filter((id) => predicted.has(id));
    const failedIds = listed.filter((id) => !predicted.has(id));
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
    const text = formatSubmission(canonical);
    const file = join(ctx.out, 'submission.csv');
    await writeFile(file, text);
    const back = parseSubmission(await readFile(file, 'utf8'));
    if (!isDeepStrictEqual(back, canonical))
      throw new Error('internal error: submission.csv does not read back to the rows written');
    await writeFile(
      join(ctx.out, 'failed.csv'),
      toCsv(
        ['image_id', 'reason'],
        canonicalRows(failedIds.map((imageId) => ({ imageId, labels: [] }))).map((r) => [
          r.imageId,
          reason.get(r.imageId) ?? 'no prediction',
        ]),
      ),
    );

    const labelCount = canonical.reduce((a, r) => a + r.labels.length, 0);
    const unlisted = test.ids.length - scoredIds.length;
    if (failedIds.length > 0)
      ctx.log(
        `${failedIds.length} test image(s) without a prediction: ${p.failed === 'priors' ? 'predicted from label priors' : 'left empty'} (listed in failed.csv)`,
      );
    if (unlisted > 0) ctx.log(`${unlisted} test prediction(s) for images not in ${testFrom} were not written`);
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
        test_source: testFrom,
        repeated_ids_in_input: duplicates,
        unlisted_predictions: unlisted,
        thresholds_mode: t.mode,
        at_least_one: t.at_least_one,
      },
    });
  },
});
