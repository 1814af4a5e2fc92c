/**
 * The report's tolerant readers on real files in a temp folder: the shapes stages may write
 * (label frequency wide/long/shares or only JSON-lines sets; histories as records, Keras columns,
 * phases, JSON lines, CSV), CSV quoting, and axis ticks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCsvTable as parseCsv } from '../src/formats/csv.js';
import { previewPictures, sampleThumbs } from '../src/report/examples.js';
import { readFailures } from '../src/report/failures.js';
import { readHistory, seriesName } from '../src/report/history.js';
import { readLabelDistribution } from '../src/report/label-frequency.js';
import type { StageView } from '../src/report/report-data.js';
import { niceTicks } from '../src/charts/svg.js';
import { REPO } from './helpers/rig.js';

async function withDir(files: Record<string, string>, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tailor-report-readers-'));
  try {
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const stage = (out: string, metrics: Record<string, unknown> = {}) =>
  ({ out, metrics, spec: { name: 'split' } }) as unknown as StageView & { out: string };

test('label frequency: wide counts with image totals, long format, shares, JSON-lines fallback', async () => {
  await withDir(
    { 'label-frequency.csv': 'labelId,labelName,train,validation\n7,red,5,1\n3,blue,10,2\n' },
    async (dir) => {
      const d = await readLabelDistribution(stage(dir, { images: { train: 20, validation: 4 } }));
      assert.ok(d);
      assert.deepEqual(d.labels, ['3', '7'], 'most frequent in train first');
      assert.deepEqual(d.percent.train, [50, 25]);
      assert.deepEqual(d.percent.validation, [50, 25]);
      assert.equal(d.unit, 'images');
      assert.equal(d.names.get('7'), 'red');
    },
  );
  await withDir(
    { 'label_frequency.csv': 'label,set,count\na,train,3\na,val,1\nb,train,1\nb,validation,3\n' },
    async (dir) => {
      const d = await readLabelDistribution(stage(dir));
      assert.ok(d);
      assert.equal(d.unit, 'label occurrences', 'no image totals: share of occurrences');
      assert.deepEqual(d.percent.train, [75, 25]);
      assert.deepEqual(d.percent.validation, [25, 75]);
    },
  );
  await withDir(
    { 'label-frequency.csv': 'labelId,train,validation,trainShare,validationShare\nx,4,1,0.4,0.1\n' },
    async (dir) => {
      const d = await readLabelDistribution(stage(dir));
      assert.deepEqual(d?.percent, { train: [40], validation: [10] }, 'share columns win over counts');
    },
  );
  const line = (labels: string[]) => JSON.stringify({ imageId: '1', labels }) + '\n';
  await withDir(
    { 'train.jsonl': line(['a', 'b']) + line(['a', 'a']), 'validation.jsonl': line(['b']) + 'not json\n' },
    async (dir) => {
      const d = await readLabelDistribution(stage(dir));
      assert.ok(d);
      assert.equal(d.source, 'train.jsonl, validation.jsonl');
      assert.deepEqual(d.labels, ['a', 'b']);
      assert.deepEqual(d.percent.train, [100, 50], 'a label repeated on one image counts once');
      assert.deepEqual(d.percent.validation, [0, 100]);
    },
  );
  await withDir({ 'notes.txt': 'nothing here' }, async (dir) => {
    assert.equal(await readLabelDistribution(stage(dir)), undefined);
  });
});

test('history: records, Keras columns, named phases, epochs.jsonl, CSV', async () => {
  await withDir({}, async (dir) => {
    const records = await readHistory(
      {
        history: [
          { epoch: 1, loss: 0.9, val_micro_f1: 0.2 },
          { epoch: 2, loss: 0.5, val_micro_f1: 0.3 },
        ],
      },
      dir,
    );
    assert.deepEqual(records?.loss, [
      {
        name: 'train loss',
        points: [
          [1, 0.9],
          [2, 0.5],
        ],
      },
    ]);
    assert.deepEqual(records?.f1, [
      {
        name: 'validation micro-F1',
        points: [
          [1, 0.2],
          [2, 0.3],
        ],
      },
    ]);

    const keras = await readHistory({ history: { loss: [3, 2, 1], val_loss: [4, 3, 2.5] } }, dir);
    assert.deepEqual(
      keras?.loss.map((s) => s.points.length),
      [3, 3],
    );
    assert.equal(keras?.epochs, 3);

    const phased = await readHistory(
      {
        head: {
          history: [
            { epoch: 1, loss: 1 },
            { epoch: 2, loss: 0.8 },
          ],
        },
        tail: { history: [{ epoch: 1, loss: 0.7 }] },
      },
      dir,
    );
    assert.deepEqual(phased?.phases, ['head', 'tail']);
    assert.deepEqual(
      phased?.loss[0]?.points.map((p) => p[0]),
      [1, 2, 3],
      'epochs restart: x counts on',
    );
    assert.deepEqual(phased?.phaseStarts, [{ x: 3, phase: 'tail' }]);

    assert.equal(await readHistory({ validation: { micro_f1: 0.5 } }, dir), undefined, 'no history: undefined');
  });
  await withDir(
    {
      'epochs.jsonl':
        '{"phase":"head","epoch":1,"loss":1,"val_loss":1.1,"lr":0.01}\n{"phase":"fine-tune","epoch":1,"loss":0.5,"val_loss":0.9,"lr":0.001}\n',
    },
    async (dir) => {
      const h = await readHistory({}, dir);
      assert.equal(h?.source, 'epochs.jsonl');
      assert.deepEqual(
        h?.loss.map((s) => s.name),
        ['train loss', 'validation loss'],
        'lr is not a curve',
      );
      assert.deepEqual(h?.phaseStarts, [{ x: 2, phase: 'fine-tune' }]);
    },
  );
  await withDir({ 'history.csv': 'epoch,loss,val_micro_f1\n1,0.7,0.1\n2,0.6,\n' }, async (dir) => {
    const h = await readHistory({}, dir);
    assert.deepEqual(h?.f1[0]?.points, [[1, 0.1]], 'an empty cell is no point');
  });
  assert.equal(seriesName('train.example_f1'), 'train example-F1');
});

test('CSV quoting, failures by reason, nice ticks', async () => {
  const t = parseCsv('a,"b, with comma","say ""hi"""\r\n1,"two\nlines",3\n\n');
  assert.deepEqual(t.header, ['a', 'b, with comma', 'say "hi"']);
  assert.deepEqual(t.rows, [['1', 'two\nlines', '3']]);

  await withDir(
    { 'failures.csv': 'imageId,url,reason\n1,u1,http 404\n2,u2,timeout\n3,u3,http 404\n4,u4,\n' },
    async (dir) => {
      const f = await readFailures(dir);
      assert.equal(f?.total, 4);
      assert.deepEqual(f?.byReason, [
        { reason: 'http 404', count: 2 },
        { reason: 'timeout', count: 1 },
        { reason: 'unknown', count: 1 },
      ]);
    },
  );

  assert.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(0.43, 0.52, 5), [0.42, 0.44, 0.46, 0.48, 0.5, 0.52]);
  assert.deepEqual(niceTicks(0, 3, 5, true), [0, 1, 2, 3], 'counts tick on whole numbers');
  const flat = niceTicks(0.531, 0.531);
  assert.ok(
    (flat[0] as number) < 0.531 && (flat[flat.length - 1] as number) > 0.531 && flat.length >= 2,
    `equal ends widen: ${flat}`,
  );
});

test('padded examples: thumbnails from the manifest, never from outside the output folder', async () => {
  const manifest = [
    { imageId: '1', set: 'train', labels: ['3'], file: 'images/1.png' },
    { imageId: '2', set: 'train', labels: [], error: 'http 404' },
    { imageId: '3', set: 'train', labels: [], file: '../outside.png' },
    { imageId: '4', set: 'train', labels: ['5'], file: 'images/4.png' },
  ];
  await withDir({ 'outside.png': '' }, async (root) => {
    // A real picture just outside the output folder: the manifest points at it, the report must not.
    const dir = join(root, 'out');
    await mkdir(join(dir, 'images'), { recursive: true });
    await writeFile(join(dir, 'manifest.jsonl'), manifest.map((m) => JSON.stringify(m)).join('\n') + '\n');
    await copyFile(join(REPO, 'test/fixtures/report/image-3.png'), join(root, 'outside.png'));
    await copyFile(join(REPO, 'test/fixtures/report/image-1.png'), join(dir, 'images/1.png'));
    await copyFile(join(REPO, 'test/fixtures/report/image-2.png'), join(dir, 'images/4.png'));
    const thumbs = await sampleThumbs(dir, 12, (id) => `label ${id}`);
    assert.deepEqual(
      thumbs.map((t) => t.caption),
      ['1: label 3', '4: label 5'],
      'failed and escaping entries are left out',
    );
    for (const t of thumbs) assert.match(t.src, /^data:image\/jpeg;base64,/);
    assert.deepEqual(await previewPictures(dir), [], 'no preview picture in this folder');
  });
  await withDir({ 'preview.jpg': 'not really a jpeg', 'other.svg': '<svg/>' }, async (dir) => {
    assert.deepEqual(await previewPictures(dir), [join(dir, 'preview.jpg')], 'a picture named preview is the preview');
  });
});
