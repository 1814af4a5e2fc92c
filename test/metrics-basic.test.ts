/** Metrics against hand-computed cases, including empty predictions and labels absent from a split. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  binarize,
  confusion,
  exampleF1,
  f1FromCounts,
  microF1,
  microF1AtThreshold,
  microPrecision,
  microRecall,
  perLabel,
  summarize,
} from '../src/ml/metrics.js';

const close = (a: number, b: number, msg?: string) => assert.ok(Math.abs(a - b) < 1e-12, `${msg ?? ''} ${a} != ${b}`);

// 3 images x 4 labels. Label 3 is absent from the truth (and predicted once, a false positive).
//            l0 l1 l2 l3
const truth = Uint8Array.from([
  1,
  1,
  0,
  0, // image 0: {0,1}
  0,
  1,
  1,
  0, // image 1: {1,2}
  1,
  0,
  0,
  0, // image 2: {0}
]);
const pred = Uint8Array.from([
  1,
  0,
  0,
  0, // image 0: {0}      tp 1, fn 1
  0,
  1,
  1,
  1, // image 1: {1,2,3}  tp 2, fp 1
  0,
  0,
  0,
  0, // image 2: {}       fn 1
]);

test('micro counts, F1, precision and recall by hand', () => {
  assert.deepEqual(confusion(truth, pred, 3, 4), { tp: 3, fp: 1, fn: 2 });
  close(microF1(truth, pred, 3, 4), 6 / 9); // 2*3 / (6 + 1 + 2)
  close(microPrecision(truth, pred, 3, 4), 3 / 4);
  close(microRecall(truth, pred, 3, 4), 3 / 5);
});

test('example-based F1 by hand', () => {
  // image 0: 2*1/(2+1) = 2/3; image 1: 2*2/(2+3) = 4/5; image 2: 0/(1+0) = 0
  close(exampleF1(truth, pred, 3, 4), (2 / 3 + 4 / 5 + 0) / 3);
  // an image with nothing true and nothing predicted counts as a perfect 1
  close(exampleF1(new Uint8Array(2), new Uint8Array(2), 1, 2), 1);
  assert.equal(exampleF1(new Uint8Array(0), new Uint8Array(0), 0, 5), 0);
});

test('per-label F1 and support, a label absent from the split', () => {
  const p = perLabel(truth, pred, 3, 4);
  assert.deepEqual([...p.support], [2, 2, 1, 0]);
  assert.deepEqual([...p.tp], [1, 1, 1, 0]);
  assert.deepEqual([...p.fp], [0, 0, 0, 1]);
  assert.deepEqual([...p.fn], [1, 1, 0, 0]);
  close(p.f1[0] as number, 2 / 3);
  close(p.f1[1] as number, 2 / 3);
  close(p.f1[2] as number, 1);
  close(p.f1[3] as number, 0); // absent and wrongly predicted
  close(p.precision[3] as number, 0);
  close(p.recall[3] as number, 0); // 0/0 -> 0
  // absent and never predicted: still 0 by the documented convention, support 0
  const q = perLabel(Uint8Array.from([1, 0]), Uint8Array.from([1, 0]), 1, 2);
  assert.deepEqual([...q.f1], [1, 0]);
  assert.deepEqual([...q.support], [1, 0]);
});

test('empty predictions score 0, empty truth and empty predictions score 0 micro', () => {
  const none = new Uint8Array(12);
  assert.equal(microF1(truth, none, 3, 4), 0);
  assert.equal(microPrecision(truth, none, 3, 4), 0);
  assert.equal(microRecall(truth, none, 3, 4), 0);
  assert.equal(exampleF1(truth, none, 3, 4), 0);
  assert.equal(microF1(none, none, 3, 4), 0);
  assert.equal(f1FromCounts(0, 0, 0), 0);
});

test('thresholded variants agree with binarize + microF1', () => {
  const probs = Float32Array.from([0.9, 0.4, 0.1, 0.2, 0.3, 0.6, 0.5, 0.55, 0.49, 0.2, 0.1, 0.0]);
  const at05 = binarize(probs, 3, 4, 0.5);
  assert.deepEqual([...at05], [1, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0]); // 0.5 >= 0.5 is positive
  assert.deepEqual([...at05], [...pred]);
  close(microF1AtThreshold(truth, probs, 3, 4, 0.5), 6 / 9);
  // per-label thresholds: label 1 at 0.35 adds a TP (0.4), label 3 at 0.6 removes the FP
  const th = [0.5, 0.35, 0.5, 0.6];
  close(microF1AtThreshold(truth, probs, 3, 4, th), microF1(truth, binarize(probs, 3, 4, th), 3, 4));
  close(microF1AtThreshold(truth, probs, 3, 4, th), (2 * 4) / (8 + 0 + 1));
});

test('labels without a column (dropped by split) count as misses', () => {
  // image 0 has one more true label, image 2 two more, none of them predictable
  const missed = [1, 0, 2];
  assert.deepEqual(confusion(truth, pred, 3, 4, missed), { tp: 3, fp: 1, fn: 5 });
  close(microF1(truth, pred, 3, 4, missed), 6 / 12); // 2*3 / (6 + 1 + 5)
  close(microRecall(truth, pred, 3, 4, missed), 3 / 8);
  close(microPrecision(truth, pred, 3, 4), 3 / 4); // unchanged: nothing more was predicted
  // image 0: 2*1/(3+1); image 1: 4/5; image 2: 0/(3+0)
  close(exampleF1(truth, pred, 3, 4, missed), (2 / 4 + 4 / 5 + 0) / 3);
  const probs = Float32Array.from(pred);
  close(microF1AtThreshold(truth, probs, 3, 4, 0.5, missed), 6 / 12);
  const s = summarize(truth, pred, 3, 4, missed);
  assert.equal(s.true_labels, 8);
  close(s.micro_f1, 0.5);
  // an image with only dropped labels and no prediction scores 0, not the empty-case 1
  close(exampleF1(new Uint8Array(2), new Uint8Array(2), 1, 2, [1]), 0);
  assert.throws(() => microF1(truth, pred, 3, 4, [1, 2]), /missed counts for 2 images/);
});

test('summary and shape checks', () => {
  const s = summarize(truth, pred, 3, 4);
  close(s.micro_f1, 6 / 9);
  assert.equal(s.images, 3);
  assert.equal(s.true_labels, 5);
  assert.equal(s.predicted_labels, 4);
  assert.throws(() => microF1(truth, pred, 4, 4), /expected 4 x 4/);
  assert.throws(() => binarize(new Float32Array(4), 1, 4, [0.5]), /1 thresholds for 4 labels/);
});
