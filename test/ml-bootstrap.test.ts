/**
 * Honest holdout scores: the seeded bootstrap gives deterministic intervals that hold the point
 * score, paired comparisons call a tie a tie and a clear win a win; and a scored set answers the
 * split's failed images with the label-prior guess, as submit does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareMethods, countsF1, f1Interval, imageCounts } from '../src/ml/bootstrap.js';
import { microF1 } from '../src/ml/metrics.js';
import { loadModels, loadScoredSet } from '../src/ml/scored-set.js';
import { priorGuess } from '../src/ml/submission-inputs.js';
import { mulberry32 } from '../src/random.js';
import { makeSynthetic, writeModelFolder, writeSplitFolder } from './fixtures/ensemble/synthetic.js';

/** Random truth, and predictions that agree with it with probability `agree` per entry. */
function noisy(n: number, L: number, agree: number, seed: number): { truth: Uint8Array; pred: Uint8Array } {
  const rand = mulberry32(seed);
  const truth = new Uint8Array(n * L).map(() => (rand() < 0.3 ? 1 : 0));
  const pred = truth.map((t) => (rand() < agree ? t : 1 - t));
  return { truth, pred };
}

test('intervals are seeded, hold the point score, and the counts give the dense micro-F1', () => {
  const { truth, pred } = noisy(400, 10, 0.85, 1);
  const c = imageCounts(truth, pred, 400, 10);
  assert.ok(Math.abs(countsF1(c) - microF1(truth, pred, 400, 10)) < 1e-12);
  const a = f1Interval(c, 42);
  assert.deepEqual(f1Interval(c, 42), a, 'same seed, same interval');
  assert.ok(a.lo < countsF1(c) && countsF1(c) < a.hi, `${a.lo} < ${countsF1(c)} < ${a.hi}`);
  assert.ok(a.hi - a.lo < 0.1 && a.hi - a.lo > 0.005, `width ${a.hi - a.lo}`);
});

test('paired comparisons: a near-copy is a tie, a much better method wins', () => {
  const n = 300;
  const L = 8;
  const { truth, pred } = noisy(n, L, 0.8, 2);
  const base = imageCounts(truth, pred, n, L);
  // One image's prediction changed: inside the noise.
  const nudged = pred.slice();
  nudged[0] = 1 - (nudged[0] as number);
  const tie = compareMethods({ name: 'b', counts: imageCounts(truth, nudged, n, L) }, { name: 'a', counts: base }, 7);
  assert.equal(tie.verdict, 'tie');
  assert.ok(tie.lo <= 0 && tie.hi >= 0);
  const better = noisy(n, L, 0.95, 2); // same truth (same seed), fewer flips
  assert.deepEqual(better.truth, truth);
  const win = compareMethods(
    { name: 'good', counts: imageCounts(truth, better.pred, n, L) },
    { name: 'a', counts: base },
    7,
  );
  assert.equal(win.verdict, 'good better');
  assert.ok(win.lo > 0 && win.diff > win.lo && win.diff < win.hi);
});

test("a scored set appends the split's failed images answered by the label-prior guess", async () => {
  const data = makeSynthetic({ labels: 6, validation: 120, holdout: 80, test: 10, noise: [1.0], seed: 3 });
  const root = await mkdtemp(join(tmpdir(), 'tailor-scored-'));
  const split = join(root, 'split');
  const model = join(root, 'model');
  await writeSplitFolder(split, data);
  await writeModelFolder(model, data, 0);
  const failed = [
    { imageId: 'f1', set: 'validation', labels: [data.labelIds[0]], error: 'http 404' },
    { imageId: 'f2', set: 'validation', labels: ['not-a-kept-label'], error: 'timeout' },
  ];
  await writeFile(join(split, 'holdout-failed.jsonl'), failed.map((f) => JSON.stringify(f)).join('\n') + '\n');
  const models = await loadModels([{ name: 'model', dir: model }]);
  const hold = await loadScoredSet(split, 'holdout', data.labelIds, models);
  const L = data.labelIds.length;
  assert.equal(hold.ids.length, 82);
  assert.equal(hold.failed, 2);
  assert.deepEqual(hold.ids.slice(-2), ['f1', 'f2']);
  const prior = await priorGuess(split, data.labelIds);
  assert.deepEqual(hold.priorLabels, prior.labels);
  const guess = data.labelIds.map((l) => (prior.labels.includes(l) ? 1 : 0));
  assert.deepEqual([...(hold.probs[0] as Float32Array).subarray(80 * L, 81 * L)], guess);
  assert.equal(hold.missed[81], 1, 'a label split dropped is a miss');
  const val = await loadScoredSet(split, 'validation', data.labelIds, models);
  assert.equal(val.failed, 0);
});
