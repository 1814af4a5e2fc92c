/**
 * Where one train-head step spends its time, at full width (2,288 float16 features, 190 labels):
 * `node --import tsx bench/head-step.ts BATCH HIDDEN_JSON ROWS_FILE`. Prints one JSON line: ms per
 * step for reading the batch's rows from a float16 shard (positioned reads + float16 decode in JS),
 * the label rows, forward + backward (tf.variableGrads, as the trainer calls it), the Adam update,
 * and the loss read-back + disposal; and the samples/s of the whole. The same code as train-head
 * (ShardedFeatures, DenseHead with standardisation, weighted BCE, Adam); rows are random and a
 * shard of 20,000 rows is written to ROWS_FILE first if it is not there. Run by bench/head-speed.ts.
 */
import { existsSync, openSync, closeSync, writeSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { useBackend } from '../src/ml/backend.js';
import { ShardedFeatures } from '../src/formats/feature-shards.js';
import { DenseHead } from '../src/ml/dense-head.js';
import { Adam } from '../src/ml/adam.js';
import { lossOf } from '../src/ml/losses.js';
import { gatherLabels } from '../src/ml/head-task.js';
import { encodeHalf } from '../src/util/float16.js';
import { mulberry32 } from '../src/random.js';

const D = 2288;
const L = 190;
const N = 20_000;
const WARMUP = 10;
const STEPS = 100;
const [batchArg, hiddenArg, file] = process.argv.slice(2) as [string, string, string];
const B = Number(batchArg);
const hidden = JSON.parse(hiddenArg) as number[];
const rand = mulberry32(7);

if (!existsSync(file)) {
  const fd = openSync(file, 'w');
  const chunk = new Float32Array(D * 1000);
  for (let c = 0; c < N / 1000; c++) {
    for (let i = 0; i < chunk.length; i++) chunk[i] = rand() * 2 - 1;
    writeSync(fd, encodeHalf(chunk));
  }
  closeSync(fd);
}
const { tf } = await useBackend('tfjs-node');
const x = new ShardedFeatures(dirname(file), D, 'float16', [{ file: basename(file), rows: N }]);
const y = new Uint8Array(N * L).map(() => (rand() < 0.02 ? 1 : 0));
const std = { mean: new Float32Array(D).fill(0.01), invStd: new Float32Array(D).fill(1.5) };
const head = DenseHead.create(tf, { inputDim: D, hidden, dropout: 0.5, labels: L }, 1, undefined, std);
const adam = new Adam(tf, head.variables, 1e-3);
const loss = { name: 'weighted_bce' as const, gamma: 2, posWeight: new Float32Array(L).fill(2) };
const ms: Record<string, number> = { read_rows: 0, labels: 0, forward_backward: 0, adam: 0, readback_dispose: 0 };
let t0 = 0;
const lap = (k: string): void => {
  const now = performance.now();
  ms[k]! += now - t0;
  t0 = now;
};
for (let s = 0; s < WARMUP + STEPS; s++) {
  if (s === WARMUP) for (const k in ms) ms[k] = 0;
  const idx = Int32Array.from({ length: B }, () => Math.floor(rand() * N));
  t0 = performance.now();
  const xs = x.gather(idx);
  lap('read_rows');
  const ys = gatherLabels(y, L, idx);
  lap('labels');
  const { value, grads } = tf.variableGrads(
    () => lossOf(tf, loss, head.logits(tf.tensor2d(xs, [B, D]), true, s), tf.tensor2d(ys, [B, L])),
    head.variables,
  );
  lap('forward_backward');
  adam.apply(head.variables.map((p) => grads[p.name]!));
  lap('adam');
  value.dataSync();
  value.dispose();
  tf.dispose(grads);
  lap('readback_dispose');
}
x.close();
const total = Object.values(ms).reduce((a, b) => a + b, 0);
const perStep = Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, Math.round((v / STEPS) * 100) / 100]));
console.log(JSON.stringify({ batch: B, hidden, ms_per_step: perStep, samples_per_s: (STEPS * B * 1000) / total }));
