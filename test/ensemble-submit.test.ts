/**
 * submit through the stage harness: every listed test image gets exactly one row in numeric id
 * order, failed images from priors or empty (`123,`), rows equal the thresholded predictions,
 * and the CSV reads back; plus the writer/reader on their own.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStage } from './helpers/stage-harness.js';
import {
  makeSynthetic,
  writeModelFolder,
  writeSplitFolder,
  type SyntheticData,
} from './fixtures/ensemble/synthetic.js';
import { applyThresholds } from '../src/ml/thresholds.js';
import { canonicalRows, compareIds, formatSubmission, parseSubmission } from '../src/formats/submission.js';
import type { ThresholdsFile } from '../src/formats/thresholds.js';

const STAGE = 'stages/submit.ts';
const FAILED = 4;
let data: SyntheticData;
let root: string;
let needs: Record<string, string>;
let thresholds: ThresholdsFile;

interface SubmissionMetrics {
  rows: number;
  predicted_rows: number;
  failed_rows: number;
  failed_mode: string;
  prior_labels: string[];
  empty_rows: number;
  test_source: string;
  repeated_ids_in_input: number;
  unlisted_predictions: number;
}

before(async () => {
  data = makeSynthetic({ labels: 20, validation: 800, holdout: 400, test: 60, noise: [1.0], seed: 4 });
  root = await mkdtemp(join(tmpdir(), 'tailor-sub-'));
  const split = join(root, 'split');
  const model = join(root, 'model');
  await writeSplitFolder(split, data, FAILED);
  await writeModelFolder(model, data, 0, FAILED);
  const thr = await runStage('stages/threshold.ts', {}, { needs: { split, 'train-head@x': model } });
  thresholds = JSON.parse(await readFile(join(thr.out, 'thresholds.json'), 'utf8')) as ThresholdsFile;
  needs = { split, 'train-head@x': model, threshold: thr.out };
});

async function rowsOf(out: string) {
  const text = await readFile(join(out, 'submission.csv'), 'utf8');
  return { text, rows: parseSubmission(text) };
}

test('one row per test image, numeric order, predicted rows = thresholded probabilities, failed rows from priors', async () => {
  const run = await runStage(STAGE, {}, { needs });
  const m = run.metrics.submission as SubmissionMetrics;
  const { text, rows } = await rowsOf(run.out);
  assert.ok(text.startsWith('image_id,label_id\n'));
  assert.equal(rows.length, 60);
  assert.deepEqual(
    rows.map((r) => r.imageId),
    [...data.test.ids].sort((a, b) => Number(a) - Number(b)),
  );
  assert.equal(m.rows, 60);
  assert.equal(m.failed_rows, FAILED);
  assert.equal(m.predicted_rows, 60 - FAILED);
  assert.equal(m.failed_mode, 'priors');
  assert.equal(m.test_source, 'split/test.jsonl');
  // Priors: the most frequent labels of the fixture (label order = frequency order there).
  assert.ok(m.prior_labels.length >= 1);
  assert.deepEqual(m.prior_labels, data.labelIds.slice(0, m.prior_labels.length));
  const L = data.labelIds.length;
  const probs = data.models[0]?.test as Float32Array;
  const expect = applyThresholds(probs, 60, L, thresholds.thresholds, thresholds.at_least_one);
  const byId = new Map(rows.map((r) => [r.imageId, r.labels]));
  data.test.ids.forEach((id, r) => {
    const want = r < FAILED ? [...m.prior_labels] : data.labelIds.filter((_, l) => expect[r * L + l] === 1);
    assert.deepEqual(byId.get(id), canonicalRows([{ imageId: id, labels: want }])[0]?.labels, `row of image ${id}`);
  });
  const failed = (await readFile(join(run.out, 'failed.csv'), 'utf8')).trim().split('\n');
  assert.deepEqual(failed, ['image_id,reason', ...data.test.ids.slice(0, FAILED).map((id) => `${id},http 404`)]);
});

test('failed: empty writes "123," rows; test_json covers every listed image, numeric order, repeats once', async () => {
  const work = await mkdtemp(join(tmpdir(), 'tailor-sub-work-'));
  // Shuffled, with a repeat, two ids without predictions, one of them longer (numeric vs text order).
  const listed = ['100000', ...[...data.test.ids].reverse(), data.test.ids[7] as string, '99'];
  await writeFile(
    join(work, 'test.json'),
    JSON.stringify({ images: listed.map((imageId) => ({ url: `https://example.com/${imageId}.jpg`, imageId })) }),
  );
  const run = await runStage(STAGE, { failed: 'empty', test_json: 'test.json' }, { needs, workdir: work });
  const m = run.metrics.submission as SubmissionMetrics;
  const { text, rows } = await rowsOf(run.out);
  assert.equal(rows.length, 62);
  assert.equal(rows[0]?.imageId, '99');
  assert.equal(rows[61]?.imageId, '100000');
  assert.equal(m.repeated_ids_in_input, 1);
  assert.equal(m.failed_rows, FAILED + 2);
  assert.ok(text.includes('\n99,\n') && text.endsWith('\n100000,\n'), 'empty rows are written "id,"');
  for (const id of data.test.ids.slice(0, FAILED)) assert.ok(text.includes(`\n${id},\n`));
  assert.ok(m.empty_rows >= FAILED + 2);
  assert.equal(m.test_source, 'test.json');
  const failed = await readFile(join(run.out, 'failed.csv'), 'utf8');
  assert.match(failed, /\n99,no prediction\n/);
});

test('test.json from a needed stage (e.g. mosaic); a mismatched producer is refused', async () => {
  const mosaic = join(root, 'mosaic');
  await mkdir(mosaic, { recursive: true });
  await writeFile(
    join(mosaic, 'test.json'),
    JSON.stringify({ images: data.test.ids.slice(0, 30).map((imageId) => ({ url: 'file:///x.jpg', imageId })) }),
  );
  const run = await runStage(STAGE, {}, { needs: { ...needs, mosaic } });
  const m = run.metrics.submission as SubmissionMetrics;
  assert.equal(m.test_source, 'mosaic/test.json');
  assert.equal(m.rows, 30);
  assert.equal(m.unlisted_predictions, 30);

  const other = join(root, 'other-model');
  await writeModelFolder(other, data, 0, FAILED + 1); // different test rows: different predictions
  await assert.rejects(
    runStage(
      STAGE,
      {},
      { needs: { split: needs.split as string, 'train-head@y': other, threshold: needs.threshold as string } },
    ),
    /fitted on the predictions of "train-head@x", which differ from those of "train-head@y"/,
  );
  // With several producers needed, the one the thresholds were fitted on is chosen.
  const both = await runStage(STAGE, {}, { needs: { ...needs, 'train-head@y': other } });
  assert.equal((both.metrics.submission as SubmissionMetrics).rows, 60);
  await assert.rejects(
    runStage(STAGE, { predictions: 'train-head@y' }, { needs: { ...needs, 'train-head@y': other } }),
    /differ from those of "train-head@y"/,
  );
  await assert.rejects(
    runStage(STAGE, { test_json: 'nope.json' }, { needs, workdir: root }),
    /nope\.json: not readable as JSON/,
  );
});

test('writer and strict reader round-trip; bad ids and malformed files are refused', () => {
  const rows = canonicalRows([
    { imageId: '10', labels: ['66', '9', '105'] },
    { imageId: '9', labels: [] },
    { imageId: '123', labels: ['1'] },
  ]);
  const text = formatSubmission(rows);
  assert.equal(text, 'image_id,label_id\n9,\n10,9 66 105\n123,1\n');
  assert.deepEqual(parseSubmission(text), rows);
  assert.deepEqual(parseSubmission(text.replace(/\n/g, '\r\n')), rows);
  assert.throws(() => formatSubmission([{ imageId: 'a,b', labels: [] }]), /cannot be written/);
  assert.throws(() => formatSubmission([{ imageId: '1', labels: ['x y'] }]), /cannot be written/);
  assert.throws(
    () =>
      formatSubmission([
        { imageId: '1', labels: [] },
        { imageId: '1', labels: [] },
      ]),
    /appears twice/,
  );
  assert.throws(() => parseSubmission('id,labels\n1,\n'), /line 1: expected header/);
  assert.throws(() => parseSubmission('image_id,label_id\n1,2,3\n'), /line 2/);
  assert.throws(() => parseSubmission('image_id,label_id\n1,2  3\n'), /line 2: malformed/);
  assert.ok(
    compareIds('9', '10') < 0 &&
      compareIds('100000', '99') > 0 &&
      compareIds('007', '8') < 0 &&
      compareIds('12', 'a') < 0,
  );
});
